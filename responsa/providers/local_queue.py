"""Turns on one in-process model: one generation at a time, served in arrival order.

    queue = ModelQueue("local", wait_s=60.0)
    async with queue.turn():      # waits its turn, at most `wait_s`, else a 429
        ...                       # generate

Why a queue and not batching: llama-cpp-python's `Llama` decodes one sequence at a time
(several sequences per batch exist for embeddings only), and its own server serializes
requests with a lock too. So requests take turns; a turn is handed straight to the oldest
waiter, so a newcomer never overtakes one that waits. A waiter that gives up (its client left)
leaves the line; one that waits longer than `wait_s` gets a 429 with `Retry-After` before any
output, as an overloaded upstream would answer. `close()` (shutdown) refuses every waiter.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from responsa.errors import UpstreamError

log = logging.getLogger("responsa.providers")


class ModelQueue:
    def __init__(self, provider: str, wait_s: float) -> None:
        self.provider = provider
        self.wait_s = wait_s
        self._busy = False
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._turn_s = 5.0  # a running estimate of one turn's length, for Retry-After

    @property
    def waiting(self) -> int:
        return sum(not w.done() for w in self._waiters)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        await self._acquire()
        started = time.monotonic()
        try:
            yield
        finally:
            self._turn_s = 0.8 * self._turn_s + 0.2 * (time.monotonic() - started)
            self._release()

    def close(self) -> None:
        """Shutdown: refuse every waiter now and every request from now on."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(self._shutting_down())

    async def _acquire(self) -> None:
        if self._closed:
            raise self._shutting_down()
        if not self._busy and not self._waiters:
            self._busy = True
            return
        ahead = self.waiting + 1
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        # at most a line per generation the model can serve: the model is the bottleneck then
        log.info("%s: a request waits for its turn (%d ahead)", self.provider, ahead)
        try:
            async with asyncio.timeout(self.wait_s):
                await waiter
        except TimeoutError:
            if not _granted(waiter):
                raise self._busy_error(ahead) from None
            # handed the turn just as the time ran out: take it
        except BaseException:  # cancelled (the client left): the turn, if handed over, goes on
            if _granted(waiter):
                self._release()
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the turn passes on: `_busy` stays set
                return
        self._busy = False

    def _busy_error(self, ahead: int) -> UpstreamError:
        retry = max(1, math.ceil(self._turn_s * ahead))
        return UpstreamError(
            f"The local model is busy: {ahead} request(s) were ahead of this one and it waited "
            f"{self.wait_s:g} s for its turn (RESPONSA_LOCAL_QUEUE_WAIT_S). Retry after {retry} s.",
            status_code=429,
            error_type="requests",
            code="rate_limit_exceeded",
            provider=self.provider,
            retry_after=str(retry),
        )

    def _shutting_down(self) -> UpstreamError:
        return UpstreamError(
            "The server is shutting down; the local model takes no more requests.",
            status_code=503,
            provider=self.provider,
            retry_after="1",
        )


def _granted(waiter: asyncio.Future[None]) -> bool:
    return waiter.done() and not waiter.cancelled() and waiter.exception() is None
