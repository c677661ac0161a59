"""`POST /v1/chat/completions`: a pass-through to the model's provider, recorded like every
upstream call. The body is forwarded as given, with the model renamed to the upstream's."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from responsa.api import sse
from responsa.api.deps import engine, json_response, read_json
from responsa.api.openapi import BODY, UPSTREAM, operation
from responsa.engine.request import ChatCompletionRequest, parse_body
from responsa.engine.run import Engine
from responsa.errors import ResponsaError
from responsa.observability import access
from responsa.observability.watch import upstream_call
from responsa.types import ChatRequest

router = APIRouter()


@functools.cache
def _sdk_params() -> frozenset[str]:
    """Keyword arguments the SDK's create() knows; anything else rides in `extra_body`."""
    from openai.resources.chat.completions import AsyncCompletions

    skip = {"self", "extra_headers", "extra_query", "extra_body", "timeout"}
    return frozenset(inspect.signature(AsyncCompletions.create).parameters) - skip


def _chat_request(data: Any, upstream_model: str) -> ChatRequest:
    request: ChatRequest = {"model": upstream_model}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key == "model":
            continue
        (request if key in _sdk_params() else extra)[key] = value
    if extra:
        request["extra_body"] = extra
    return request


@router.post(
    "/v1/chat/completions",
    **operation(
        ok="ChatCompletion",
        body=ChatCompletionRequest,
        errors=BODY + UPSTREAM,
        stream=("ChatCompletionChunk", "ErrorResponse"),
    ),
)
async def chat_completions(request: Request, engine: Annotated[Engine, Depends(engine)]) -> Response:
    data = await read_json(request)
    body = parse_body(ChatCompletionRequest, data)  # the rest of `data` goes upstream as sent
    model = engine.registry.resolve(body.model)
    chat = _chat_request(data, model.provider_model_id)
    access.note(request.scope, model=body.model)
    provider = model.provider
    watch = upstream_call(provider.name, chat, engine.tracing)  # counted, refusals logged
    if not body.stream:
        with watch:
            result = await provider.complete_chat(chat)
        return json_response(result.model_dump(mode="json", exclude_unset=True))

    chunks = provider.stream_chat(chat)
    try:  # fail with a proper HTTP error if the upstream refuses before the first chunk
        with watch:  # a stream is watched to its first chunk
            first = await anext(chunks)
    except StopAsyncIteration:
        first = None

    async def payloads() -> AsyncIterator[bytes]:
        try:
            if first is not None:
                yield orjson.dumps(first)
            async for chunk in chunks:
                yield orjson.dumps(chunk)
        except ResponsaError as exc:
            yield orjson.dumps(exc.to_body())
        finally:
            await chunks.aclose()

    return sse.data_stream(payloads())
