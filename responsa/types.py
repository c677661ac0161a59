"""Type aliases shared across the package."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

ChatMessage = dict[str, Any]
ChatMessages = list[ChatMessage]
ChatRequest = dict[str, Any]  # keyword arguments of `chat.completions.create`
# keyword arguments of `embeddings.create` (model, input, dimensions, user): never encoding_format
EmbeddingRequest = dict[str, Any]
Item = dict[str, Any]  # a Responses input or output item, as on the wire
Event = dict[str, Any]  # a Responses stream event without its sequence_number
EventStream = AsyncIterator[Event]
# One streamed chat completion chunk, as the JSON the upstream sent (the shape of the SDK's
# `ChatCompletionChunk`). Plain dicts, not SDK models: building a typed model per chunk was the
# largest cost of the whole request path.
ChatChunk = dict[str, Any]
ChunkStream = AsyncGenerator[ChatChunk, None]
