"""Idempotency keys on SQLAlchemy (mixed into `SqlStore`).

The first create request with a key claims it (one INSERT; a racing second one finds the row
instead); the claim names the response it runs and, once the client has its answer, keeps that
answer (`result`). A claim whose request ended without an answer the client saw (an error, a
client that left) is given up, so a retry runs again.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from responsa.store.base import IdempotencyRecord
from responsa.store.database import Database
from responsa.store.tables import idempotency_keys


def _record(row: Any) -> IdempotencyRecord:
    result = orjson.loads(row.result) if row.result is not None else None
    return IdempotencyRecord(row.request_hash, row.response_id, row.created_at, result)


class SqlIdempotency:
    db: Database

    async def claim_key(
        self, owner: str, key: str, request_hash: str, response_id: str, now: float
    ) -> IdempotencyRecord | None:
        c = idempotency_keys.c

        def claim(conn: Connection) -> IdempotencyRecord | None:
            dialect = postgresql if self.db.dialect == "postgresql" else sqlite
            inserted = conn.execute(
                dialect.insert(idempotency_keys)
                .values(
                    owner=owner, key=key, request_hash=request_hash, response_id=response_id, created_at=now
                )
                .on_conflict_do_nothing()
            )
            if inserted.rowcount:
                return None
            row = conn.execute(select(idempotency_keys).where(c.owner == owner, c.key == key)).first()
            return _record(row) if row is not None else None

        return await self.db.write(claim)

    async def key_record(self, owner: str, key: str) -> IdempotencyRecord | None:
        c = idempotency_keys.c
        query = select(idempotency_keys).where(c.owner == owner, c.key == key)

        def get(conn: Connection) -> IdempotencyRecord | None:
            row = conn.execute(query).first()
            return _record(row) if row is not None else None

        return await self.db.read(get)

    async def settle_key(self, owner: str, key: str, response_id: str, result: dict[str, Any]) -> None:
        c = idempotency_keys.c
        statement = (
            update(idempotency_keys)
            .where(c.owner == owner, c.key == key, c.response_id == response_id)
            .values(result=orjson.dumps(result).decode())
        )
        await self.db.write(lambda conn: conn.execute(statement))

    async def release_key(self, owner: str, key: str, response_id: str) -> None:
        c = idempotency_keys.c
        statement = delete(idempotency_keys).where(
            c.owner == owner, c.key == key, c.response_id == response_id, c.result.is_(None)
        )
        await self.db.write(lambda conn: conn.execute(statement))

    async def remove_expired_keys(self, before: float) -> int:
        statement = delete(idempotency_keys).where(idempotency_keys.c.created_at < before)
        return await self.db.write(lambda conn: int(conn.execute(statement).rowcount or 0))
