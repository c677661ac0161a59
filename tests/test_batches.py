"""`ready_batches`: events that are ready together share one write; nothing waits longer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from responsa.batches import ready_batches


async def _source(
    log: list[str], fail: bool = False, read: asyncio.Event | None = None
) -> AsyncIterator[int]:
    try:
        for i in (1, 2, 3):
            yield i
        if read is None:
            await asyncio.sleep(0.01)  # a network read
        else:
            await read.wait()  # a read that comes when the test says
        yield 4
        await asyncio.sleep(0)
        yield 5
        if fail:
            raise ValueError("upstream broke")
        yield 6
    except asyncio.CancelledError:
        log.append("cancelled")
        raise
    finally:
        log.append("closed")


def test_items_ready_together_are_one_batch() -> None:
    async def run() -> list[list[int]]:
        return [batch async for batch in ready_batches(_source([]))]

    assert asyncio.run(run()) == [[1, 2, 3], [4], [5, 6]]


def test_an_error_comes_after_what_was_ready() -> None:
    async def run(seen: list[list[int]]) -> None:
        async for batch in ready_batches(_source([], fail=True)):
            seen.append(batch)

    seen: list[list[int]] = []
    with pytest.raises(ValueError, match="upstream broke"):
        asyncio.run(run(seen))
    assert seen == [[1, 2, 3], [4], [5]]  # what was ready goes out before the error


def test_closing_while_the_source_waits_cancels_it_there() -> None:
    log: list[str] = []

    async def run() -> None:
        async with aclosing(ready_batches(_source(log))) as batches:
            assert await anext(batches) == [1, 2, 3]  # the source now waits for its "read"

    asyncio.run(run())
    assert log == ["cancelled", "closed"]


def test_cancelling_the_reader_reaches_the_source() -> None:
    log: list[str] = []

    async def read(first: asyncio.Event) -> None:
        async for _ in ready_batches(_source(log, read=asyncio.Event())):  # a read that never comes
            first.set()

    async def run() -> None:
        first = asyncio.Event()
        task = asyncio.create_task(read(first))
        await first.wait()  # [1, 2, 3] handed over: the source now waits for its read
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert log == ["cancelled", "closed"]
