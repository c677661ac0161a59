"""RecordingProvider: a Provider that records or replays the provider it wraps.

    provider = RecordingProvider(OpenAICompatProvider(...), mode="replay", index=index, directory=d)

Modes: `record` calls upstream and writes `<key>.json`; `replay` answers only from recordings
and raises `ReplayMiss` otherwise; `record-if-missing` replays what it has and records the
rest. (`live` needs no wrapper: `app.py` then uses the real provider directly.)

The test id that goes into each key is read from `current_test_id`, a context variable the
API layer sets from the request headers, so it follows every upstream call made while serving
that request.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from responsa.errors import ReplayMiss, UpstreamError
from responsa.providers.base import Provider
from responsa.recording import cassette
from responsa.recording.index import Entry, RecordingIndex
from responsa.recording.keys import request_key
from responsa.types import ChatRequest, ChunkStream

log = logging.getLogger("responsa.recording")

current_test_id: ContextVar[str | None] = ContextVar("responsa_test_id", default=None)

CHAT_ENDPOINT = "/v1/chat/completions"
MODELS_ENDPOINT = "/v1/models"


class RecordingProvider(Provider):
    def __init__(self, inner: Provider, *, mode: str, index: RecordingIndex, directory: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.mode = mode
        self.index = index
        self.directory = directory

    def _url(self, endpoint: str) -> str:
        base = str(getattr(getattr(self.inner, "client", None), "base_url", "")).rstrip("/")
        return base + endpoint.removeprefix("/v1")

    def _lookup(self, endpoint: str, body: dict[str, Any], test_id: str | None) -> tuple[str, Any]:
        key = request_key("POST" if endpoint == CHAT_ENDPOINT else "GET", endpoint, body, test_id)
        if self.mode in ("replay", "record-if-missing"):
            recording = self.index.find(key)
            if recording is not None:
                return key, recording
            if self.mode == "replay":
                raise self.index.miss(key, endpoint, body, test_id)
        return key, None

    def _save(
        self, key: str, endpoint: str, body: dict[str, Any], test_id: str | None, response: dict[str, Any]
    ) -> None:
        request = {
            "method": "POST" if endpoint == CHAT_ENDPOINT else "GET",
            "url": self._url(endpoint),
            "headers": {},
            "body": body,
            "endpoint": endpoint,
            "model": body.get("model", ""),
        }
        path = cassette.write(self.directory, key, test_id, request, response)
        self.index.add(key, Entry(path, test_id, endpoint))
        log.info("recorded %s (test id %r) to %s", endpoint, test_id, path)

    async def stream_chat(self, request: ChatRequest) -> ChunkStream:
        test_id = current_test_id.get()
        key, recording = self._lookup(CHAT_ENDPOINT, request, test_id)
        if recording is not None:
            for chunk in _replayed_chunks(recording):
                yield chunk
            return
        chunks: list[dict[str, Any]] = []
        try:
            async for chunk in self.inner.stream_chat(request):
                chunks.append(cassette.encode(chunk))
                yield chunk
        except UpstreamError as exc:
            if not chunks:  # a refused request replays as the same refusal
                self._save(key, CHAT_ENDPOINT, request, test_id, cassette.exception_response(exc))
            raise
        self._save(key, CHAT_ENDPOINT, request, test_id, {"body": chunks, "is_streaming": True})

    async def complete_chat(self, request: ChatRequest) -> ChatCompletion:
        test_id = current_test_id.get()
        key, recording = self._lookup(CHAT_ENDPOINT, request, test_id)
        if recording is not None:
            _raise_recorded_error(recording)
            result = cassette.decode(recording.response.get("body"))
            if not isinstance(result, ChatCompletion):
                raise ReplayMiss(f"recording {recording.path} holds a stream, not a chat completion")
            return result
        try:
            result = await self.inner.complete_chat(request)
        except UpstreamError as exc:
            self._save(key, CHAT_ENDPOINT, request, test_id, cassette.exception_response(exc))
            raise
        self._save(
            key, CHAT_ENDPOINT, request, test_id, {"body": cassette.encode(result), "is_streaming": False}
        )
        return result

    async def list_models(self) -> list[Model]:
        key, recording = self._lookup(MODELS_ENDPOINT, {}, None)
        if recording is not None:
            _raise_recorded_error(recording)
            body = recording.response.get("body") or []
            return [m for m in (cassette.decode(x) for x in body) if isinstance(m, Model)]
        models = await self.inner.list_models()
        self._save(
            key,
            MODELS_ENDPOINT,
            {},
            None,
            {"body": [cassette.encode(m) for m in models], "is_streaming": False},
        )
        return models

    async def start(self) -> None:
        await self.inner.start()

    async def aclose(self) -> None:
        await self.inner.aclose()


def _raise_recorded_error(recording: cassette.Recording) -> None:
    error = cassette.recorded_error(recording.response)
    if error is not None:
        raise error


def _replayed_chunks(recording: cassette.Recording) -> list[ChatCompletionChunk]:
    _raise_recorded_error(recording)
    body = recording.response.get("body")
    items = body if isinstance(body, list) else [body]
    chunks = [cassette.decode(item) for item in items]
    if not all(isinstance(c, ChatCompletionChunk) for c in chunks):
        raise ReplayMiss(f"recording {recording.path} does not hold a chat completion stream")
    return chunks
