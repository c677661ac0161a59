"""The only place that knows server-sent-event framing, and how event streams are written.

Responses streams: `event: <type>` + `data: <json>` + a blank line, LF only, each event whole
in one write, then `data: [DONE]` (SPEC §4). Events that are ready together (all those one
upstream read produced) go out in one write: a write per event costs a system call and an
ASGI send each, a third of a stream's CPU. The chat pass-through sends `data:` lines only, as
Chat Completions servers do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Generator
from contextlib import aclosing, suppress
from typing import Any, TypeVar

import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from responsa.types import EventStream

T = TypeVar("T")

DONE = b"data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def frame(event: dict[str, object]) -> bytes:
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class _Resume:
    """Awaits an `__anext__` step that was started by hand and suspended on `waiting`, as
    `await step` would have from the start: the task waits on what the step waits on."""

    __slots__ = ("step", "waiting")

    def __init__(self, step: Any, waiting: Any) -> None:
        self.step = step
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, Any]:
        step, waiting = self.step, self.waiting
        while True:
            try:
                sent = yield waiting
            except BaseException as exc:  # cancellation reaches the step where it waits
                try:
                    waiting = step.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting = step.send(sent)
                except StopIteration as done:
                    return done.value


async def ready_batches(items: AsyncIterator[T]) -> AsyncGenerator[list[T], None]:
    """The items of `items`, in lists of those that were ready without waiting.

    Each `__anext__` is started by hand: if it finishes without suspending, its item joins the
    current list; if it has to wait (for the network, say), the list is handed over first and
    the step is then awaited. Order and timing are kept: nothing ready is held back while the
    source waits.
    """
    source = items.__aiter__()
    batch: list[T] = []
    pending: Any = None  # a step suspended while its batch is handed over
    try:
        while True:
            step: Any = source.__anext__()  # an asend object: a coroutine we drive ourselves
            try:
                waiting = step.send(None)
            except StopIteration as done:
                batch.append(done.value)
                continue
            except StopAsyncIteration:
                break
            except BaseException:
                if batch:  # what was ready still goes out, then the error
                    yield batch
                raise
            if batch:
                pending = step
                yield batch
                batch = []
            try:
                item = await _Resume(step, waiting)
            except StopAsyncIteration:
                break
            finally:
                pending = None  # finished, one way or another
            batch.append(item)
        if batch:
            yield batch
    finally:
        if pending is not None:  # closed while the source waits: stop it there, as a cancel would
            with suppress(asyncio.CancelledError, StopAsyncIteration, StopIteration):
                await _Resume(pending, pending.throw(asyncio.CancelledError()))
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()


async def _response_frames(events: EventStream) -> AsyncIterator[bytes]:
    async with aclosing(ready_batches(events)) as batches:
        async for batch in batches:
            yield b"".join([frame(event) for event in batch])
    yield DONE


class EventStreamResponse(StreamingResponse):
    """A stream of Responses events. When the client goes away, the stream is cancelled where it
    is (the engine then stores the response as failed); one watcher task, not a task group."""

    def __init__(self, events: EventStream) -> None:
        super().__init__(_response_frames(events), media_type="text/event-stream", headers=HEADERS)

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
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            frames = self.body_iterator
            async for chunk in frames:
                # The last write ends the response, after which the watcher would see a disconnect.
                if chunk is DONE:
                    watcher.cancel()
                await send({"type": "http.response.body", "body": chunk, "more_body": chunk is not DONE})
        except asyncio.CancelledError:
            if not gone:
                raise
            task.uncancel()  # our own cancel, for a client that left: the request ends quietly
        finally:
            watcher.cancel()
            await self.body_iterator.aclose()  # type: ignore[attr-defined]


def response_stream(events: EventStream) -> EventStreamResponse:
    return EventStreamResponse(events)


def data_stream(chunks: AsyncIterator[bytes]) -> StreamingResponse:
    """Already-encoded `data:` payloads (the chat pass-through), terminated by `[DONE]`."""

    async def frames() -> AsyncIterator[bytes]:
        async for payload in chunks:
            yield b"data: " + payload + b"\n\n"
        yield DONE

    return StreamingResponse(frames(), media_type="text/event-stream", headers=HEADERS)
