"""API keys on SQLAlchemy (mixed into `SqlStore`): records only, keyed by the key's SHA-256."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from responsa.store.base import ApiKey
from responsa.store.database import Database
from responsa.store.tables import api_keys


def _key(row: Any) -> ApiKey:
    return ApiKey(row.id, row.name, row.owner, bool(row.admin), row.key_hash, row.created_at, row.revoked_at)


class SqlKeys:
    db: Database

    async def add_api_key(self, key: ApiKey) -> None:
        values = {
            "id": key.id,
            "name": key.name,
            "owner": key.owner,
            "admin": key.admin,
            "key_hash": key.key_hash,
            "created_at": key.created_at,
            "revoked_at": key.revoked_at,
        }
        await self.db.write(lambda conn: conn.execute(api_keys.insert().values(**values)))

    async def api_key(self, key_hash: str) -> ApiKey | None:
        def get(conn: Connection) -> ApiKey | None:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
            return _key(row) if row is not None else None

        return await self.db.read(get)

    async def list_api_keys(self) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        return await self.db.read(lambda conn: [_key(row) for row in conn.execute(query)])

    async def revoke_api_key(self, key_id: str, when: int) -> bool:
        statement = (
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=when)
        )
        return await self.db.write(lambda conn: bool(conn.execute(statement).rowcount))

    async def has_api_keys(self) -> bool:
        query = select(func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None))
        count = await self.db.read(lambda conn: int(conn.scalar(query) or 0))
        return count > 0
