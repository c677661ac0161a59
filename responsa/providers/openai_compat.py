"""Any OpenAI-compatible Chat Completions server (OpenAI, vLLM, Ollama, ...) through the
official SDK's `AsyncOpenAI`, one pooled client per provider."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import openai
import orjson
from openai import AsyncOpenAI, AsyncStream, DefaultAioHttpClient
from openai._constants import RAW_RESPONSE_HEADER
from openai._response import AsyncResponseContextManager
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from responsa.config import ProviderConfig
from responsa.errors import UpstreamError
from responsa.providers.base import Provider
from responsa.types import ChatRequest, ChunkStream


def _error_fields(body: object) -> dict[str, Any]:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return inner
    return {}


@contextmanager
def upstream_errors(provider: str, model: str | None) -> Iterator[None]:
    """Turn SDK exceptions into `UpstreamError` carrying the provider, model and the
    upstream's own status, type, code and message."""
    try:
        yield
    except openai.APIStatusError as exc:
        fields = _error_fields(exc.body)
        raise UpstreamError(
            str(fields.get("message") or exc.message),
            status_code=exc.status_code,
            error_type=fields.get("type"),
            param=fields.get("param"),
            code=fields.get("code"),
            provider=provider,
            model=model,
        ) from exc
    except openai.APIError as exc:  # connection errors, timeouts, broken streams
        raise UpstreamError(
            f"Upstream provider '{provider}' failed: {exc.message}", provider=provider, model=model
        ) from exc
    except httpx2.HTTPError as exc:  # the raw stream broke after the response started
        raise UpstreamError(
            f"Upstream provider '{provider}' broke off the stream: {exc}", provider=provider, model=model
        ) from exc
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(
            f"Upstream provider '{provider}' sent a chunk that is not JSON: {exc}",
            provider=provider,
            model=model,
        ) from exc


class OpenAICompatProvider(Provider):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.client = AsyncOpenAI(
            api_key=config.api_key or "none",
            base_url=config.base_url,
            timeout=config.timeout_s,
            max_retries=0,  # the caller decides; replays must see exactly one call
            # The SDK's aiohttp transport (openai[aiohttp]): its C HTTP parser costs a fraction of
            # the pure-Python default's, and the upstream call is most of a request's CPU.
            http_client=DefaultAioHttpClient(timeout=config.timeout_s),
        )

    def _raw_stream(self, request: ChatRequest) -> AsyncResponseContextManager[Any]:
        """`chat.completions.with_streaming_response.create`, minus its parameter transform: the
        SDK walks every message of the body against its TypedDicts (~0.3 ms per message, the
        whole cost of long histories), while our bodies are already plain JSON."""
        body = {k: v for k, v in request.items() if k != "extra_body"}
        body.update(request.get("extra_body") or {})
        return AsyncResponseContextManager(
            self.client.post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                options={"headers": {RAW_RESPONSE_HEADER: "stream"}, "security": {"bearer_auth": True}},
                stream=True,
                stream_cls=AsyncStream[ChatCompletionChunk],
            )
        )

    async def stream_chat(self, request: ChatRequest) -> ChunkStream:
        # The SDK sends the request (auth, errors); its raw SSE lines are decoded here.
        with upstream_errors(self.name, request.get("model")):
            async with self._raw_stream(request) as response:
                async for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        continue  # read to the end, so the connection goes back to the pool
                    chunk = orjson.loads(data)
                    if "error" in chunk and "choices" not in chunk:
                        fields = _error_fields(chunk)
                        raise UpstreamError(
                            str(fields.get("message") or data),
                            code=fields.get("code"),
                            provider=self.name,
                            model=request.get("model"),
                        )
                    yield chunk

    async def complete_chat(self, request: ChatRequest) -> ChatCompletion:
        with upstream_errors(self.name, request.get("model")):
            result: ChatCompletion = await self.client.chat.completions.create(**request)
            return result

    async def list_models(self) -> list[Model]:
        with upstream_errors(self.name, None):
            return [model async for model in self.client.models.list()]

    async def aclose(self) -> None:
        await self.client.close()
