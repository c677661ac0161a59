"""The only place that knows server-sent-event framing.

Responses streams: `event: <type>` + `data: <json>` + a blank line, LF only, each event in one
write, then `data: [DONE]` (SPEC §4). The chat pass-through sends `data:` lines only, as Chat
Completions servers do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from starlette.responses import StreamingResponse

from responsa.types import EventStream

DONE = b"data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def frame(event: dict[str, object]) -> bytes:
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


async def _response_frames(events: EventStream) -> AsyncIterator[bytes]:
    async for event in events:
        yield frame(event)
    yield DONE


def response_stream(events: EventStream) -> StreamingResponse:
    return StreamingResponse(_response_frames(events), media_type="text/event-stream", headers=HEADERS)


def data_stream(chunks: AsyncIterator[bytes]) -> StreamingResponse:
    """Already-encoded `data:` payloads (the chat pass-through), terminated by `[DONE]`."""

    async def frames() -> AsyncIterator[bytes]:
        async for payload in chunks:
            yield b"data: " + payload + b"\n\n"
        yield DONE

    return StreamingResponse(frames(), media_type="text/event-stream", headers=HEADERS)
