"""RecordingProvider: a Provider that records or replays the provider it wraps.

    provider = RecordingProvider(OpenAICompatProvider(...), mode="replay", index=index, directory=d)

Modes: `record` calls upstream and writes `<key>.json`; `replay` answers only from recordings
and raises `ReplayMiss` otherwise; `record-if-missing` replays what it has and records the
rest. (`live` needs no wrapper: `app.py` then uses the real provider directly.) Credentials
are redacted from every body before its key is computed and before it is written
(`redact.py`); with a hits log, every lookup says what it found (`hits.py`).

The test id that goes into each key is read from `responsa.context.current_test_id`, which the
API layer sets from the request headers, so it follows every upstream call made while serving
that request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion

from responsa.context import current_test_id, current_upstream
from responsa.errors import ReplayMiss, UpstreamError
from responsa.observability.metrics import REPLAY_LOOKUPS
from responsa.providers.base import Provider
from responsa.providers.openai_compat import OpenAICompatProvider
from responsa.recording import cassette
from responsa.recording.hits import HitsLog
from responsa.recording.index import Entry, RecordingIndex
from responsa.recording.keys import TOOL_ENDPOINT, request_key
from responsa.recording.redact import Redaction
from responsa.tools.base import ToolError, ToolOutcome
from responsa.tools.mcp import McpClient, McpServer, McpTool
from responsa.tools.web_search import SearchError, SearchProvider
from responsa.types import ChatChunk, ChatRequest, ChunkStream, EmbeddingRequest

WholeT = TypeVar("WholeT", ChatCompletion, CreateEmbeddingResponse)

log = logging.getLogger("responsa.recording")

CHAT_ENDPOINT = "/v1/chat/completions"
MODELS_ENDPOINT = "/v1/models"
EMBEDDINGS_ENDPOINT = "/v1/embeddings"
MCP_ENDPOINT = "mcp"  # MCP calls: keyed like chat calls (with the test id), not like web searches


class Recorder:
    """Lookup and write-back shared by the recording wrappers."""

    def __init__(
        self,
        mode: str,
        index: RecordingIndex,
        directory: Path,
        base_url: str = "",
        *,
        redaction: Redaction | None = None,
        hits: HitsLog | None = None,
    ) -> None:
        self.mode = mode
        self.index = index
        self.directory = directory
        self.base_url = base_url.rstrip("/")
        self.redaction = redaction
        self.hits = hits

    def lookup(
        self, method: str, endpoint: str, body: dict[str, Any], test_id: str | None
    ) -> tuple[str, cassette.Recording | None]:
        """The key of this request (computed from its redacted form) and its recording, if
        there is one; a miss in replay mode raises, naming the closest recording."""
        if self.redaction is not None:
            body = self.redaction.request(body)
        key = request_key(method, endpoint, body, test_id)
        if self.mode in ("replay", "record-if-missing"):
            recording = self.index.find(key, body)
            REPLAY_LOOKUPS.labels("hit" if recording is not None else "miss").inc()
            if recording is not None:
                self._note("hit", key, test_id, endpoint, recording.path)
                return key, recording
            if self.mode == "replay":
                miss = self.index.miss(key, endpoint, body, test_id)
                self._note("miss", key, test_id, endpoint, None, miss)
                raise miss
        return key, None

    def _note(
        self,
        outcome: str,
        key: str,
        test_id: str | None,
        endpoint: str,
        path: Path | None,
        miss: ReplayMiss | None = None,
    ) -> None:
        """Say what a lookup found: in the hits log, and on the upstream call being made (the
        response's trace, which the console shows)."""
        if self.hits is not None:
            self.hits.note(outcome, key, test_id, endpoint, path, miss)
        call = current_upstream.get()
        if call is not None and endpoint == CHAT_ENDPOINT:
            note: dict[str, Any] = {"outcome": outcome, "key": key, "test_id": test_id}
            if path is not None:
                note["file"] = path.name
            if miss is not None:
                note.update(closest=miss.closest, differs=miss.differs, diff=miss.diff)
            call["recording"] = note

    def save(
        self,
        key: str,
        method: str,
        endpoint: str,
        body: dict[str, Any],
        test_id: str | None,
        response: dict[str, Any],
    ) -> None:
        if self.redaction is not None:  # a secret never reaches the disk
            body = self.redaction.request(body)
            response = self.redaction.response(response)
        request = {
            "method": method,
            "url": self.base_url + endpoint.removeprefix("/v1") if endpoint.startswith("/") else endpoint,
            "headers": {},
            "body": body,
            "endpoint": endpoint,
            "model": body.get("model", ""),
        }
        path = cassette.write(self.directory, key, test_id, request, response)
        self.index.add(key, Entry(path, test_id, endpoint))
        self._note("recorded", key, test_id, endpoint, path)
        log.info("recorded %s (test id %r) to %s", endpoint, test_id, path)


class RecordingProvider(Provider):
    def __init__(
        self,
        inner: Provider,
        *,
        mode: str,
        index: RecordingIndex,
        directory: Path,
        redaction: Redaction | None = None,
        hits: HitsLog | None = None,
        pace: str = "none",
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.pace = pace  # how replayed streams are paced: "none", "recorded" or milliseconds
        base_url = str(getattr(getattr(inner, "client", None), "base_url", ""))
        self.recorder = Recorder(mode, index, directory, base_url, redaction=redaction, hits=hits)

    def _lookup(self, endpoint: str, body: dict[str, Any], test_id: str | None) -> tuple[str, Any]:
        method = "GET" if endpoint == MODELS_ENDPOINT else "POST"
        return self.recorder.lookup(method, endpoint, body, test_id)

    def _save(
        self, key: str, endpoint: str, body: dict[str, Any], test_id: str | None, response: dict[str, Any]
    ) -> None:
        method = "GET" if endpoint == MODELS_ENDPOINT else "POST"
        self.recorder.save(key, method, endpoint, body, test_id, response)

    async def stream_chat(self, request: ChatRequest) -> ChunkStream:
        test_id = current_test_id.get()
        key, recording = self._lookup(CHAT_ENDPOINT, request, test_id)
        if recording is not None:
            chunks_back = _replayed_chunks(recording)
            gaps = _pace(self.pace, recording, len(chunks_back))
            for chunk, gap in zip(chunks_back, gaps, strict=True):
                if gap:
                    await asyncio.sleep(gap)
                yield chunk
            return
        chunks: list[dict[str, Any]] = []
        times: list[int] = []  # milliseconds before each chunk (for `recording.pace: recorded`)
        last = time.monotonic()
        try:
            async for chunk in self.inner.stream_chat(request):
                now = time.monotonic()
                times.append(round((now - last) * 1000))
                last = now
                chunks.append(cassette.encode_chunk(chunk))
                yield chunk
        except UpstreamError as exc:
            if not chunks:  # a refused request replays as the same refusal
                self._save(key, CHAT_ENDPOINT, request, test_id, cassette.exception_response(exc))
            raise
        self._save(
            key,
            CHAT_ENDPOINT,
            request,
            test_id,
            {"body": chunks, "is_streaming": True, "chunk_times_ms": times},
        )

    async def _whole(
        self,
        endpoint: str,
        request: dict[str, Any],
        kind: type[WholeT],
        call: Callable[[], Awaitable[WholeT]],
        wrong: str,
    ) -> WholeT:
        """One non-streaming call: replayed when recorded (a recording of another kind is a
        miss saying `wrong`), else made and recorded, a refusal included."""
        test_id = current_test_id.get()
        key, recording = self._lookup(endpoint, request, test_id)
        if recording is not None:
            _raise_recorded_error(recording)
            replayed = cassette.decode(recording.response.get("body"))
            if not isinstance(replayed, kind):
                raise ReplayMiss(f"recording {recording.path} {wrong}")
            return replayed
        try:
            result = await call()
        except UpstreamError as exc:
            self._save(key, endpoint, request, test_id, cassette.exception_response(exc))
            raise
        self._save(key, endpoint, request, test_id, {"body": cassette.encode(result), "is_streaming": False})
        return result

    async def complete_chat(self, request: ChatRequest) -> ChatCompletion:
        return await self._whole(
            CHAT_ENDPOINT,
            request,
            ChatCompletion,
            lambda: self.inner.complete_chat(request),
            "holds a stream, not a chat completion",
        )

    async def embed(self, request: EmbeddingRequest) -> CreateEmbeddingResponse:
        """Recorded like a chat call, keyed by the request (model, input, dimensions, user) and
        the test id. An in-process embedder is deterministic and offline: it is not recorded."""
        if not isinstance(self.inner, OpenAICompatProvider):
            return await self.inner.embed(request)
        return await self._whole(
            EMBEDDINGS_ENDPOINT,
            request,
            CreateEmbeddingResponse,
            lambda: self.inner.embed(request),
            "does not hold embeddings",
        )

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

    async def count_tokens(self, request: ChatRequest) -> int | None:
        """Only an in-process count: an upstream's count endpoint is not recorded, so a replay
        (or a recording) counts the same way whatever the upstream is."""
        if isinstance(self.inner, OpenAICompatProvider):
            return None
        return await self.inner.count_tokens(request)

    @property
    def context_window(self) -> int | None:
        return self.inner.context_window

    async def start(self) -> None:
        await self.inner.start()

    def interrupt(self) -> None:
        self.inner.interrupt()

    async def aclose(self) -> None:
        await self.inner.aclose()


def _pace(pace: str, recording: cassette.Recording, count: int) -> list[float]:
    """Seconds to wait before each replayed chunk: none, the gaps the recording measured
    (`chunk_times_ms`; none for a recording without them, as the seeds'), or a fixed gap."""
    if pace == "none":
        return [0.0] * count
    if pace == "recorded":
        times = recording.response.get("chunk_times_ms")
        if isinstance(times, list) and len(times) == count:
            return [max(0.0, float(t)) / 1000 for t in times]
        return [0.0] * count
    return [int(pace) / 1000] * count


def _raise_recorded_error(recording: cassette.Recording) -> None:
    error = cassette.recorded_error(recording.response)
    if error is not None:
        raise error


def _replayed_chunks(recording: cassette.Recording) -> list[ChatChunk]:
    _raise_recorded_error(recording)
    body = recording.response.get("body")
    items = body if isinstance(body, list) else [body]
    try:
        return [cassette.decode_chunk(item) for item in items]
    except cassette.CassetteError as exc:
        raise ReplayMiss(
            f"recording {recording.path} does not hold a chat completion stream ({exc})"
        ) from None


class RecordingSearch(SearchProvider):
    """Records or replays a web search provider. Keys carry no test id (SPEC §2)."""

    def __init__(self, inner: SearchProvider, recorder: Recorder) -> None:
        self.inner = inner
        self.name = inner.name
        self.recorder = recorder

    def available(self, api_key: str | None) -> bool:
        # Replay answers from recordings, with no key; the other modes need what the inner one needs.
        return self.recorder.mode == "replay" or self.inner.available(api_key)

    async def search(self, query: str, api_key: str | None) -> dict[str, Any]:
        body = {"provider": self.inner.name, "tool_name": "web_search", "kwargs": {"query": query}}
        key, recording = self.recorder.lookup("POST", TOOL_ENDPOINT, body, None)
        if recording is not None:
            replayed, error = cassette.tool_result(recording.response)
            if error is not None:
                raise SearchError(error)
            if not isinstance(replayed, dict):
                raise ReplayMiss(f"recording {recording.path} does not hold a web search result")
            return replayed
        try:
            result = await self.inner.search(query, api_key)
        except SearchError as exc:
            self.recorder.save(key, "POST", TOOL_ENDPOINT, body, None, cassette.tool_failure(str(exc)))
            raise
        self.recorder.save(key, "POST", TOOL_ENDPOINT, body, None, {"body": result, "is_streaming": False})
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()


class RecordingMcp(McpClient):
    """Records or replays MCP `tools/list` and `tools/call`, so a suite using MCP servers runs
    with them stopped. Keyed by the server's label (not its URL, whose port changes from run
    to run; never its headers or token), the tool and its arguments, and the test id."""

    def __init__(self, inner: McpClient, recorder: Recorder) -> None:
        super().__init__(inner.policy)
        self.inner = inner
        self.recorder = recorder

    async def list_tools(self, server: McpServer) -> list[McpTool]:
        body = {"provider": "mcp", "tool_name": "list_tools", "kwargs": {"server_label": server.label}}
        test_id = current_test_id.get()
        key, recording = self.recorder.lookup("POST", MCP_ENDPOINT, body, test_id)
        if recording is not None:
            replayed, error = cassette.tool_result(recording.response)
            if error is not None:
                raise ToolError(error)
            tools = replayed.get("tools") if isinstance(replayed, dict) else None
            if not isinstance(tools, list):
                raise ReplayMiss(f"recording {recording.path} does not hold an MCP tool list")
            return [McpTool(t["name"], t.get("description"), t.get("input_schema")) for t in tools]
        try:
            listed = await self.inner.list_tools(server)
        except ToolError as exc:
            self.recorder.save(key, "POST", MCP_ENDPOINT, body, test_id, cassette.tool_failure(exc.message))
            raise
        result = {"tools": [tool.as_item_entry() for tool in listed]}
        self.recorder.save(key, "POST", MCP_ENDPOINT, body, test_id, {"body": result, "is_streaming": False})
        return listed

    async def call_tool(self, server: McpServer, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        kwargs = {"server_label": server.label, "name": name, "arguments": arguments}
        body = {"provider": "mcp", "tool_name": "call_tool", "kwargs": kwargs}
        test_id = current_test_id.get()
        key, recording = self.recorder.lookup("POST", MCP_ENDPOINT, body, test_id)
        if recording is not None:
            replayed, _ = cassette.tool_result(recording.response)
            if not isinstance(replayed, dict) or "content" not in replayed:
                raise ReplayMiss(f"recording {recording.path} does not hold an MCP tool result")
            return ToolOutcome(replayed["content"], replayed.get("output"), replayed.get("error"))
        outcome = await self.inner.call_tool(server, name, arguments)
        result = {"content": outcome.content, "output": outcome.output, "error": outcome.error}
        self.recorder.save(key, "POST", MCP_ENDPOINT, body, test_id, {"body": result, "is_streaming": False})
        return outcome
