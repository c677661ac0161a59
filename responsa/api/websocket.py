"""WebSocket mode on `/v1/responses` (OpenAI's guide; OpenResponses 2026-04-24).

    client frame                             server frames (JSON text, one event each)
    {"type": "response.create", <body>}  ->  response.created ... response.completed
    a bad frame, a refused create        ->  {"type": "error", "status": 400, "error": {...}}

The body is that of `POST /v1/responses` without `stream` (implicit: `true` is accepted, as the
Agents SDK sends it) and `background` (refused). The events are the SSE stream's, numbered
from 0 per response, with no `[DONE]`.

* Lanes. Without `stream_id` every create runs on one lane, one at a time in the order sent
  (OpenResponses: no multiplexing; a create sent while one runs waits its turn). With
  `stream_id` (OpenAI's extension) each named lane is such a queue and lanes run in parallel:
  at most `MAX_ACTIVE` responses at once (more wait), `MAX_NAMED` named lanes per connection
  (`invalid_stream_id` beyond, or for a malformed id). A named lane's events and errors carry
  its `stream_id`, as the SDK's server event types declare.
* The cache: each lane's latest completed (or incomplete) response, stored or not, so a
  `store: false` chain continues with `previous_response_id` and only the new input; any lane
  may continue (fork) any cached response. An id neither cached nor stored is
  `previous_response_not_found`; a continuation that fails evicts its parent.
* `generate: false`: the response completes at once, without output or a model call
  (`Engine.warm`), and later turns continue from its input.
* Age: a connection lives `websocket_max_age_s` (60 min). Then new creates are refused, and
  once what runs has finished the server sends `websocket_connection_limit_reached` and closes.
* A client that leaves mid-response: its responses stop where they are and are stored failed
  with their partial output, as over HTTP.

The handshake passed the guard (`auth/guard.py`, in `app.Responsa`): the principal, and the
test id from its headers (`api/deps.TestIdMiddleware`), hold for the whole connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from responsa.api.deps import parse_json
from responsa.api.responses import open_stream
from responsa.auth.limits import Concurrency
from responsa.auth.principal import Principal, current_principal
from responsa.engine.request import parse_create_request
from responsa.engine.run import Engine
from responsa.errors import InvalidRequest, PayloadTooLarge, ResponsaError, TooManyRequests
from responsa.store.base import StoredResponse
from responsa.types import Event

log = logging.getLogger("responsa.api")

MAX_ACTIVE = 16  # responses running at once on one connection
MAX_NAMED = 32  # named lanes (`stream_id`s) per connection
MAX_WAITING = 32  # creates waiting on one lane
STREAM_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
CONTINUABLE = frozenset({"completed", "incomplete"})


@dataclass(slots=True)
class Lane:
    """One queue of creates, run in order; `latest` is its cached response."""

    stream_id: str | None
    waiting: deque[dict[str, Any]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    latest: StoredResponse | None = None


def error_frame(error: ResponsaError, stream_id: str | None = None) -> dict[str, Any]:
    """The WebSocket error event (the SDK's `ResponseWsError`): the HTTP error body, its status."""
    frame: dict[str, Any] = {"type": "error", "status": error.status_code, **error.to_body()}
    if stream_id is not None:
        frame["stream_id"] = stream_id
    return frame


def limit_reached(max_age_s: float) -> InvalidRequest:
    return InvalidRequest(
        f"This WebSocket connection reached its limit of {max_age_s:g} s; open a new one "
        "(a store: false chain continues only on its own connection).",
        code="websocket_connection_limit_reached",
    )


class Connection:
    """One accepted WebSocket: reads frames, queues creates on their lanes, sends events."""

    def __init__(self, state: Any, principal: Principal, send: Send) -> None:
        self.engine: Engine = state.engine
        self.limit: Concurrency = state.concurrency
        self.max_bytes: int = state.settings.max_body_bytes
        self.max_age_s: float = state.settings.websocket_max_age_s
        self.principal = principal
        self._send = send
        self.lanes: dict[str | None, Lane] = {}
        self.active = asyncio.Semaphore(MAX_ACTIVE)
        self.running = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.expired = False
        self.closed = False

    async def run(self, receive: Receive) -> None:
        expiry = asyncio.ensure_future(self._expire())
        try:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    break  # websocket.disconnect: the client left, or we closed
                data = message.get("bytes") or (message.get("text") or "").encode()
                await self._on_frame(data)
        finally:
            self.closed = True
            expiry.cancel()
            tasks = [lane.task for lane in self.lanes.values() if lane.task is not None]
            for task in tasks:  # each running response is stored failed, with what it streamed
                task.cancel()
            await asyncio.gather(expiry, *tasks, return_exceptions=True)

    async def _on_frame(self, data: bytes) -> None:
        stream_id: str | None = None
        try:
            if len(data) > self.max_bytes:
                raise PayloadTooLarge(f"The frame is larger than the limit of {self.max_bytes} bytes.")
            frame = parse_json(data)
            if not isinstance(frame, dict):
                raise InvalidRequest("A client event must be a JSON object.", code="invalid_type")
            stream_id = self._stream_id(frame)
            kind = frame.get("type")
            if kind != "response.create":
                raise InvalidRequest(
                    f"Invalid value for 'type': {kind!r} is not a client event this server accepts; "
                    "send 'response.create'.",
                    param="type",
                    code="invalid_value",
                )
            if self.expired:
                raise limit_reached(self.max_age_s)
            self._enqueue(self._lane(stream_id), frame)
        except ResponsaError as exc:
            with contextlib.suppress(OSError):
                await self.send(error_frame(exc, stream_id))

    @staticmethod
    def _stream_id(frame: dict[str, Any]) -> str | None:
        value = frame.get("stream_id")
        if value is None:
            return None
        if not isinstance(value, str) or not STREAM_ID.fullmatch(value):
            raise InvalidRequest(
                "Invalid value for 'stream_id': a stream id is 1 to 64 letters, digits or '_.:-'.",
                param="stream_id",
                code="invalid_stream_id",
            )
        return value

    def _lane(self, stream_id: str | None) -> Lane:
        lane = self.lanes.get(stream_id)
        if lane is None:
            if stream_id is not None and sum(key is not None for key in self.lanes) >= MAX_NAMED:
                raise InvalidRequest(
                    f"Invalid value for 'stream_id': a connection has at most {MAX_NAMED} streams; "
                    "reuse one, or open another connection.",
                    param="stream_id",
                    code="invalid_stream_id",
                )
            lane = self.lanes[stream_id] = Lane(stream_id)
        return lane

    def _enqueue(self, lane: Lane, frame: dict[str, Any]) -> None:
        if len(lane.waiting) >= MAX_WAITING:
            raise TooManyRequests(f"Too many creates waiting on this stream: at most {MAX_WAITING}.")
        lane.waiting.append(frame)
        if lane.task is None:
            self.running += 1
            self.idle.clear()
            lane.task = asyncio.ensure_future(self._drain(lane))

    async def _drain(self, lane: Lane) -> None:
        try:
            with contextlib.suppress(OSError):  # the client is gone: `run` sees it leave
                while lane.waiting:
                    frame = lane.waiting.popleft()
                    async with self.active:
                        await self._create(lane, frame)
        finally:
            lane.task = None
            self.running -= 1
            if not self.running:
                self.idle.set()

    async def _create(self, lane: Lane, frame: dict[str, Any]) -> None:
        """One response on `lane`: its events, or an error frame if it is refused."""
        previous_id = frame.get("previous_response_id")
        held = self._held(previous_id)
        try:
            body, generate = _create_body(frame)
            req = parse_create_request(body)
            run = await self.engine.prepare(req, principal=self.principal, previous=held)
            with self.limit.hold(self.principal.owner):
                events = self.engine.stream(run) if generate else self.engine.warm(run)
                async with contextlib.aclosing(events):  # type: ignore[type-var]
                    for event in await open_stream(events, run):
                        await self.send(event, lane.stream_id)
                    async for event in events:
                        await self.send(event, lane.stream_id)
        except ResponsaError as exc:
            if not isinstance(exc, TooManyRequests):
                self._evict(previous_id)
            await self.send(error_frame(exc, lane.stream_id))
            return
        except OSError:
            raise  # a send found the client gone
        except Exception:
            log.exception("WebSocket create failed")
            self._evict(previous_id)
            await self.send(error_frame(ResponsaError("The server had an error."), lane.stream_id))
            return
        if run.kept is not None and run.kept.status in CONTINUABLE:
            lane.latest = run.kept
        else:
            self._evict(previous_id)

    def _held(self, response_id: object) -> StoredResponse | None:
        for lane in self.lanes.values():
            if lane.latest is not None and lane.latest.id == response_id:
                return lane.latest
        return None

    def _evict(self, response_id: object) -> None:
        for lane in self.lanes.values():
            if lane.latest is not None and lane.latest.id == response_id:
                lane.latest = None

    async def _expire(self) -> None:
        await asyncio.sleep(self.max_age_s)
        self.expired = True
        await self.idle.wait()
        await self.send(error_frame(limit_reached(self.max_age_s)))
        if not self.closed:
            self.closed = True
            await self._send({"type": "websocket.close", "code": 1000, "reason": "connection limit reached"})

    async def send(self, event: Event, stream_id: str | None = None) -> None:
        if self.closed:
            raise ConnectionError("the WebSocket is closed")
        if stream_id is not None:
            event = {**event, "stream_id": stream_id}
        await self._send({"type": "websocket.send", "text": orjson.dumps(event).decode()})


def _create_body(frame: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The create body in a `response.create` frame, and whether to generate."""
    body = {k: v for k, v in frame.items() if k not in ("type", "stream_id", "generate", "stream")}
    if frame.get("stream", True) is not True:
        raise InvalidRequest(
            "Invalid value for 'stream': responses over a WebSocket always stream; omit it.",
            param="stream",
        )
    if frame.get("background"):
        raise InvalidRequest(
            "Invalid value for 'background': background responses are not supported over a "
            "WebSocket; use POST /v1/responses.",
            param="background",
        )
    generate = frame.get("generate", True)
    if not isinstance(generate, bool):
        raise InvalidRequest("Invalid type for 'generate': expected a boolean.", param="generate")
    return body, generate


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI app for a WebSocket on `/v1/responses` (after the guard)."""
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await Connection(scope["app"].state, current_principal.get(), send).run(receive)
