"""`POST /v1/embeddings`: the model's provider embeds, and the answer goes out in OpenAI's shape.

    {"object": "list", "model": "<as asked>", "usage": {"prompt_tokens", "total_tokens"},
     "data": [{"object": "embedding", "index": 0, "embedding": [0.01, ...] or "<base64>"}]}

A configured model must be of `model_type: embedding` (a language model is a 400); a name a
provider would merely pass on (`openai/text-embedding-3-small` with no config) goes to that
provider, whose upstream judges it. Providers always hand back floats; `base64` is the
little-endian float32 bytes of each vector, as OpenAI sends it (and the SDK asks by default).
"""

from __future__ import annotations

import base64
import struct
from typing import TYPE_CHECKING, Any

from openai.types import CreateEmbeddingResponse

from responsa.engine.request import CreateEmbeddingRequest
from responsa.errors import InvalidRequest
from responsa.observability.watch import upstream_call
from responsa.providers.registry import ModelRegistry
from responsa.types import EmbeddingRequest

if TYPE_CHECKING:
    from responsa.observability.tracing import Tracing


def encode_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def wire(result: CreateEmbeddingResponse, model: str, encoding: str) -> dict[str, Any]:
    data = [
        {
            "object": "embedding",
            "index": item.index,
            "embedding": encode_base64(item.embedding) if encoding == "base64" else item.embedding,
        }
        for item in result.data
    ]
    usage = result.usage
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
    }


async def create_embeddings(
    registry: ModelRegistry, body: CreateEmbeddingRequest, tracing: Tracing | None = None
) -> dict[str, Any]:
    model = registry.resolve(body.model)
    if model.configured and model.model_type != "embedding":
        raise InvalidRequest(
            f"Model '{body.model}' is not an embedding model (its type is '{model.model_type}').",
            param="model",
        )
    request: EmbeddingRequest = {"model": model.provider_model_id, "input": body.input}
    if body.dimensions is not None:
        request["dimensions"] = body.dimensions
    if body.user is not None:
        request["user"] = body.user
    with upstream_call(model.provider.name, request, tracing):
        result = await model.provider.embed(request)
    return wire(result, body.model, body.encoding_format)
