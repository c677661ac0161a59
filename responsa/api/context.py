"""`POST /v1/responses/compact` and `POST /v1/responses/input_tokens`: managing a long context.

Both take what a create request would (the model, input, instructions, previous response or
conversation, tools) and run `Engine.prepare` on it, so the history they see is the one a
response would send. Compaction is in `engine/compaction.py`, counting in `engine/tokens.py`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from responsa.api.deps import engine, json_response, read_json
from responsa.api.openapi import BODY, UPSTREAM, operation
from responsa.auth.principal import current_principal
from responsa.engine import compaction
from responsa.engine.request import (
    CompactRequest,
    CreateResponseRequest,
    InputTokensRequest,
    parse_body,
)
from responsa.engine.run import Engine
from responsa.engine.tokens import count_input_tokens

router = APIRouter()


@router.post(
    "/v1/responses/compact",
    **operation(ok="CompactedResponse", body=CompactRequest, errors=(*BODY, *UPSTREAM)),
)
async def compact(request: Request, engine: Annotated[Engine, Depends(engine)]) -> Response:
    body = parse_body(CompactRequest, await read_json(request))
    return json_response(await compaction.compact(engine, body, current_principal.get()))


@router.post(
    "/v1/responses/input_tokens",
    **operation(ok="InputTokenCountResponse", body=InputTokensRequest, errors=(*BODY, 404)),
)
async def input_tokens(request: Request, engine: Annotated[Engine, Depends(engine)]) -> Response:
    """The input tokens a create request with this body would send upstream: instructions,
    history, input and tool definitions (MCP servers' tools, listed only when a response runs,
    are not counted)."""
    body = parse_body(InputTokensRequest, await read_json(request))
    fields = body.model_dump(exclude_none=True)
    fields.setdefault("input", [])
    create = CreateResponseRequest.model_validate({**fields, "store": False})
    run = await engine.prepare(create, principal=current_principal.get(), allow_empty=True)
    count = await count_input_tokens(run.model, run.chat)
    return json_response({"object": "response.input_tokens", "input_tokens": count})
