"""`Idempotency-Key` on `POST /v1/responses`: the same key and owner run one response, once.

    key = idempotency.key_of(request)                  # None: no header, nothing to do
    claim = await idempotency.claim(store, owner, key, data, response_id)
    if claim.repeat is not None:                       # a request with this key ran (or runs)
        return await idempotency.answer(store, claim, stream)
    ...run, then `claim.settle(answer)`; an error or a client that left: `claim.release()`

The first request with a key claims it in the database (any replica), after its body passed
every check, and keeps its answer once the client has it: the response object (for a
background request, the queued one). A repeat with the same body gets that answer, waiting
while the first still runs (`Idempotent-Replayed: true`); a repeat with another body is a 409.
A request that ended without an answer its client saw (an HTTP error, a client that left) gives
its claim up, so the retry runs. Keys are kept for a day.

The official SDKs send no key of their own: they retry a request that timed out, after
closing its connection, and a non-streaming request whose client has gone is cancelled
(`api/responses.py`), so even then the retry is the only run.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from responsa.api import sse
from responsa.api.deps import json_response
from responsa.engine.background import tail
from responsa.errors import Conflict, InvalidRequest
from responsa.store.base import IdempotencyRecord, Store
from responsa.types import EventStream

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
REPEAT_WAIT_S = 120.0  # how long a repeat waits for the first request's answer
POLL_S = 0.1
PARAMETER = {  # the header, as the OpenAPI document describes it
    "name": "Idempotency-Key",
    "description": "One response per owner and key: a repeat gets the first answer (409 for another body).",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}


def key_of(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidRequest(
            f"Invalid Idempotency-Key header: send 1 to {MAX_KEY_LENGTH} printable characters.",
            param="Idempotency-Key",
            code="invalid_idempotency_key",
        )
    return key


def _hash(data: Any) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(slots=True)
class Claim:
    store: Store
    owner: str
    key: str
    request_hash: str
    response_id: str
    repeat: IdempotencyRecord | None  # set when another request holds the key

    async def settle(self, answer: dict[str, Any]) -> None:
        await self.store.settle_key(self.owner, self.key, self.response_id, answer)

    async def release(self) -> None:
        await self.store.release_key(self.owner, self.key, self.response_id)

    async def watch(self, events: EventStream) -> EventStream:
        """A stream that settles the claim with its final response, or gives it up if it
        ends short (the client left)."""
        settled = False
        try:
            async for event in events:
                if event["type"] in ("response.completed", "response.incomplete", "response.failed"):
                    await self.settle(event["response"])  # before the client can see it and retry
                    settled = True
                yield event
        finally:
            if not settled:
                await asyncio.shield(self.release())


async def claim(store: Store, owner: str, key: str, data: Any, response_id: str) -> Claim:
    request_hash = _hash(data)
    existing = await store.claim_key(owner, key, request_hash, response_id, time.time())
    return Claim(store, owner, key, request_hash, response_id, existing)


async def answer(claim: Claim, stream: bool) -> Response | None:
    """The answer to a repeat: the first request's, once it has one. None when the first
    request gave its claim up meanwhile (the caller claims again and runs)."""
    record = claim.repeat
    assert record is not None
    if record.request_hash != claim.request_hash:
        raise Conflict(
            "This Idempotency-Key was already used with a different request body; "
            "use a new key for a new request.",
            param="Idempotency-Key",
            code="idempotency_key_reused",
        )
    deadline = time.monotonic() + REPEAT_WAIT_S
    while record.result is None:
        if time.monotonic() > deadline:
            raise Conflict(
                f"A request with this Idempotency-Key is still running (response {record.response_id}); "
                "retry later.",
                param="Idempotency-Key",
                code="idempotency_key_in_use",
            )
        await asyncio.sleep(POLL_S)
        found = await claim.store.key_record(claim.owner, claim.key)
        if found is None:
            return None
        record = found
    result = record.result
    if stream:
        if not result.get("background"):
            raise Conflict(
                f"A request with this Idempotency-Key already ran (response {record.response_id}); "
                "its stream cannot be sent again. Retrieve the response instead.",
                param="Idempotency-Key",
                code="idempotency_key_reused",
            )
        response: Response = sse.response_stream(tail(claim.store, record.response_id, -1))
    else:
        response = json_response(result)
    response.headers["Idempotent-Replayed"] = "true"
    return response
