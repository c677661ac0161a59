"""`POST /v1/embeddings` (the work is in `engine/embeddings.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from responsa.api.deps import engine, json_response, read_json
from responsa.api.openapi import BODY, UPSTREAM, operation
from responsa.engine.embeddings import create_embeddings
from responsa.engine.request import CreateEmbeddingRequest, parse_body
from responsa.engine.run import Engine
from responsa.observability import access

router = APIRouter()


@router.post(
    "/v1/embeddings",
    **operation(ok="EmbeddingList", body=CreateEmbeddingRequest, errors=BODY + UPSTREAM),
)
async def embeddings(request: Request, engine: Annotated[Engine, Depends(engine)]) -> Response:
    body = parse_body(CreateEmbeddingRequest, await read_json(request))
    access.note(request.scope, model=body.model)
    return json_response(await create_embeddings(engine.registry, body, engine.tracing))
