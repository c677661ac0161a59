"""The only place that knows server-sent-event framing, and how event streams are written.

Responses streams: `event: <type>` + `data: <json>` + a blank line, LF only, each event whole
in one write, then `data: [DONE]` (SPEC §4). Events that are ready together (all those one
upstream read produced) go out in one write: a write per event costs a system call and an
ASGI send each, a third of a stream's CPU. The chat pass-through sends `data:` lines only, as
Chat Completions servers do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from responsa.batches import ready_batches
from responsa.observability.metrics import ACTIVE_STREAMS
from responsa.types import Event, EventStream

DONE = b"data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def frame(event: dict[str, object]) -> bytes:
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


async def _response_frames(events: EventStream, head: list[Event]) -> AsyncIterator[bytes]:
    if head:
        yield b"".join([frame(event) for event in head])
    async with aclosing(ready_batches(events)) as batches:
        async for batch in batches:
            yield b"".join([frame(event) for event in batch])
    yield DONE


class EventStreamResponse(StreamingResponse):
    """A stream of Responses events. When the client goes away, the stream is cancelled where it
    is (the engine then stores the response as failed); one watcher task, not a task group."""

    def __init__(self, events: EventStream, head: list[Event] | None = None) -> None:
        frames = _response_frames(events, head or [])
        super().__init__(frames, media_type="text/event-stream", headers=HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            task.cancel()

        watcher = asyncio.create_task(watch())
        ACTIVE_STREAMS.inc()
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            async for chunk in self.body_iterator:
                # The last write ends the response, after which the watcher would see a disconnect.
                if chunk is DONE:
                    watcher.cancel()
                await send({"type": "http.response.body", "body": chunk, "more_body": chunk is not DONE})
        except asyncio.CancelledError:
            if not gone:
                raise
            task.uncancel()  # our own cancel, for a client that left: the request ends quietly
        finally:
            ACTIVE_STREAMS.dec()
            watcher.cancel()
            await self.body_iterator.aclose()  # type: ignore[attr-defined]


def response_stream(events: EventStream, head: list[Event] | None = None) -> EventStreamResponse:
    """The stream of `events`, after the `head` events already read from it."""
    return EventStreamResponse(events, head)


def data_stream(chunks: AsyncIterator[bytes]) -> StreamingResponse:
    """Already-encoded `data:` payloads (the chat pass-through), terminated by `[DONE]`."""

    async def frames() -> AsyncIterator[bytes]:
        async for payload in chunks:
            yield b"data: " + payload + b"\n\n"
        yield DONE

    return StreamingResponse(frames(), media_type="text/event-stream", headers=HEADERS)
