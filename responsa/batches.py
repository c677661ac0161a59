"""`ready_batches`: an async stream regrouped into lists of the items that were ready together.

The event stream of a response is produced item by item, but one upstream read yields many
events at once. Writers (the SSE response, the background event log) handle a list per write:
one system call or one transaction for what was ready, and nothing ready held back while the
source waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Generator
from contextlib import suppress
from typing import Any, TypeVar

T = TypeVar("T")


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
