"""`/v1/health`, `/v1/models` and `/v1/providers`."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from responsa.api.deps import engine, json_response
from responsa.api.openapi import operation
from responsa.engine.run import Engine
from responsa.errors import NotFound, ResponsaError

router = APIRouter()
log = logging.getLogger("responsa.api")


def _model(
    model_id: str, provider: str, upstream: str, model_type: str = "llm", dimension: int | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "model_type": model_type,
        "provider_id": provider,
        "provider_resource_id": upstream,
    }
    if dimension is not None:
        metadata["embedding_dimension"] = dimension
    return {
        "id": model_id,
        "object": "model",
        "created": 0,
        "owned_by": provider,
        "custom_metadata": metadata,
    }


@router.get("/v1/health", **operation(ok="Health"))
async def health() -> Response:
    return json_response({"status": "OK"})


@router.get("/v1/models", **operation(ok="ModelList"))
async def list_models(engine: Annotated[Engine, Depends(engine)]) -> Response:
    registry = engine.registry
    data = [
        _model(m.id, m.provider, m.provider_model_id, m.model_type, m.embedding_dimension)
        for m in registry.models
    ]
    seen = {m["id"] for m in data}
    for provider in registry.open_providers():
        try:
            upstream = await provider.list_models()
        except ResponsaError as exc:  # one unreachable provider must not hide the others
            log.warning(
                "could not list models of provider %s: %s", provider.name, exc.message.splitlines()[0]
            )
            continue
        for model in upstream:
            model_id = f"{provider.name}/{model.id}"
            if model_id not in seen:
                seen.add(model_id)
                data.append(_model(model_id, provider.name, model.id))
    return json_response({"object": "list", "data": data})


@router.get("/v1/models/{model_id:path}", **operation(ok="Model", errors=(404, 502)))
async def retrieve_model(model_id: str, engine: Annotated[Engine, Depends(engine)]) -> Response:
    """A configured model, or one its provider lists: a name a provider would merely pass on is
    not said to exist."""
    resolved = engine.registry.resolve(model_id)
    if not engine.registry.configured(model_id):
        listed = {model.id for model in await resolved.provider.list_models()}
        if resolved.provider_model_id not in listed:
            raise NotFound(
                f"The model '{model_id}' does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
    return json_response(
        _model(
            resolved.id,
            resolved.provider.name,
            resolved.provider_model_id,
            resolved.model_type,
            resolved.embedding_dimension,
        )
    )


@router.get("/v1/providers", **operation(ok="ProviderList"))
async def list_providers(engine: Annotated[Engine, Depends(engine)]) -> Response:
    data = [
        {
            "api": "inference",
            "provider_id": name,
            "provider_type": "remote::openai",
            "config": {},
            "health": {"status": "OK"},
        }
        for name in engine.registry.providers
    ]
    return json_response({"data": data})
