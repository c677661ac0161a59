"""Large request bodies take turns, so N of them at once cannot exhaust memory.

A body, once read, lives on in several forms while its request runs (the bytes, the parsed
JSON, the upstream request, its encoding): about 2.7 times its size at the peak. A request
whose body is over `LARGE` bytes (declared by `Content-Length`, or counted as a chunked body
arrives) holds one of `slots` until its response is sent; others wait for one, without reading
their bodies (the server stops reading the socket), and after `wait_s` get a 429. Smaller
requests never wait.

    gate = LargeBodies(slots=2, wait_s=60)
    async with gate.admit(scope, receive) as receive:
        await app(scope, receive, send)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.types import Message, Receive, Scope

from responsa.errors import TooManyRequests

LARGE = 1 << 20


class LargeBodies:
    def __init__(self, slots: int, wait_s: float) -> None:
        self.slots = slots
        self.wait_s = wait_s
        self._free: asyncio.Semaphore | None = None  # made on first use, in the server's loop

    @contextlib.asynccontextmanager
    async def admit(self, scope: Scope, receive: Receive) -> AsyncIterator[Receive]:
        """`receive`, or one that waits for a slot once the body turns out large; the slot is
        given back when the block ends (the response has been sent)."""
        declared = _content_length(scope)
        if declared is not None and declared <= LARGE:
            yield receive
            return
        held = False

        async def take() -> None:
            nonlocal held
            if self._free is None:
                self._free = asyncio.Semaphore(self.slots)
            try:
                await asyncio.wait_for(self._free.acquire(), self.wait_s)
            except TimeoutError:
                raise TooManyRequests(
                    f"Too many large requests at once: at most {self.slots} bodies over "
                    f"{LARGE >> 20} MiB are read at a time. Retry shortly.",
                    "1",
                ) from None
            held = True

        try:
            if declared is not None:
                await take()
                yield receive
                return
            seen = 0

            async def counting() -> Message:
                nonlocal seen
                message = await receive()
                if not held and message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > LARGE:
                        await take()
                return message

            yield counting
        finally:
            if held and self._free is not None:
                self._free.release()


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
