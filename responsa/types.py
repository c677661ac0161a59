"""Type aliases shared across the package."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from openai.types.chat import ChatCompletionChunk

JSON = dict[str, Any]
ChatMessage = dict[str, Any]
ChatMessages = list[ChatMessage]
ChatRequest = dict[str, Any]  # keyword arguments of `chat.completions.create`
Item = dict[str, Any]  # a Responses input or output item, as on the wire
Event = dict[str, Any]  # a Responses stream event without its sequence_number
EventStream = AsyncIterator[Event]
ProviderName = str
ChunkStream = AsyncGenerator[ChatCompletionChunk, None]  # one upstream chat completion, streamed
