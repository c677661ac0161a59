"""The Provider interface: the boundary where upstream calls leave the server.

A provider speaks Chat Completions. Implementations sit side by side in this folder; the
recorder (`responsa.recording.recorder.RecordingProvider`) is just another provider that wraps
a real one, chosen in `app.py` from the settings.

    provider = registry.resolve("openai/gpt-4o").provider
    async for chunk in provider.stream_chat({"model": "gpt-4o", "messages": [...], "stream": True}):
        ...

Contract: `request` holds the keyword arguments of the OpenAI SDK's `chat.completions.create`
(an `extra_body` key carries non-standard fields). Failures are raised as
`responsa.errors.UpstreamError` (or `ReplayMiss` in replay mode), never as SDK exceptions.
A consumer that stops iterating early must `aclose()` the iterator; implementations release
the upstream connection then.

A provider may also embed (`embed`): the request holds the keyword arguments of the SDK's
`embeddings.create` (without `encoding_format`: vectors come back as floats; the API layer
encodes them as the client asked).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion

from responsa.errors import InvalidRequest
from responsa.types import ChatRequest, ChunkStream, EmbeddingRequest


class Provider(ABC):
    name: str

    @abstractmethod
    def stream_chat(self, request: ChatRequest) -> ChunkStream:
        """Stream one chat completion (`request["stream"]` is true)."""

    @abstractmethod
    async def complete_chat(self, request: ChatRequest) -> ChatCompletion:
        """One non-streaming chat completion (the chat pass-through's `stream: false`)."""

    @abstractmethod
    async def list_models(self) -> list[Model]:
        """The upstream's model list."""

    async def embed(self, request: EmbeddingRequest) -> CreateEmbeddingResponse:
        """Embed `request["input"]`: one vector of floats per input, in order, with usage.

            result = await provider.embed({"model": "text-embedding-3-small", "input": ["a", "b"]})
            result.data[1].embedding  # list[float]

        Raises `InvalidRequest` (or `UpstreamError`) when the input or options cannot be served.
        """
        raise InvalidRequest(f"Provider '{self.name}' does not serve embeddings.", param="model")

    async def count_tokens(self, request: ChatRequest) -> int | None:
        """The exact prompt tokens of `request` when this provider can count them (its own
        tokenizer, or an endpoint of the upstream's), else None (`engine/tokens.py` then counts)."""
        return None

    @property
    def context_window(self) -> int | None:
        """The context window of every model this provider serves, when it is one model."""
        return None

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Get ready to serve (an in-process model loads its weights here)."""

    def interrupt(self) -> None:  # noqa: B027 - optional hook
        """Shutdown began (called in the event loop before the server waits for open requests):
        stop running work now. An in-process model stops its generation at the next token."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release pooled connections."""
