"""Uploaded files on SQLAlchemy (mixed into `SqlStore`): metadata in `files`, bytes in
`file_contents` (one row per file) unless they live in a directory (`files/storage.py`).

A file past its `expires_at` is missing to every lookup, as a deleted one is (it can still be
deleted, so its bytes go).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.engine import Connection

from responsa.store.base import FilePage, Order, StoredFile
from responsa.store.database import Database
from responsa.store.paging import in_order, past
from responsa.store.tables import file_contents, files


def _file(row: Any) -> StoredFile:
    return StoredFile(
        id=row.id,
        created_at=row.created_at,
        filename=row.filename,
        purpose=row.purpose,
        bytes=row.bytes,
        content_type=row.content_type,
        expires_at=row.expires_at,
        owner=row.owner,
    )


def _visible(owner: str | None) -> list[Any]:
    c = files.c
    alive = or_(c.expires_at.is_(None), c.expires_at > int(time.time()))
    return [alive, c.owner == owner] if owner is not None else [alive]


class SqlFiles:
    db: Database

    async def save_file(self, file: StoredFile, data: bytes | None) -> None:
        values = {
            "id": file.id,
            "owner": file.owner,
            "created_at": file.created_at,
            "expires_at": file.expires_at,
            "filename": file.filename,
            "purpose": file.purpose,
            "bytes": file.bytes,
            "content_type": file.content_type,
        }

        def save(conn: Connection) -> None:
            conn.execute(insert(files).values(values))
            if data is not None:
                conn.execute(insert(file_contents).values(file_id=file.id, data=data))

        await self.db.write(save)

    async def get_file(self, file_id: str, owner: str | None = None) -> StoredFile | None:
        found = await self.find_files([file_id], owner)
        return found.get(file_id)

    async def find_files(self, file_ids: list[str], owner: str | None = None) -> dict[str, StoredFile]:
        query = select(files).where(files.c.id.in_(file_ids), *_visible(owner))

        def find(conn: Connection) -> dict[str, StoredFile]:
            return {row.id: _file(row) for row in conn.execute(query)}

        return await self.db.read(find)

    async def file_data(self, file_id: str) -> bytes | None:
        query = select(file_contents.c.data).where(file_contents.c.file_id == file_id)

        def read(conn: Connection) -> bytes | None:
            data = conn.scalar(query)
            return bytes(data) if data is not None else None

        return await self.db.read(read)

    async def list_files(
        self, *, after: str | None, limit: int, order: Order, purpose: str | None, owner: str | None = None
    ) -> FilePage | None:
        c = files.c

        def page(conn: Connection) -> FilePage | None:
            conditions = _visible(owner)
            if purpose is not None:
                conditions.append(c.purpose == purpose)
            if after is not None:
                cursor = conn.execute(
                    select(c.created_at, c.pk).where(c.id == after, *_visible(owner))
                ).first()
                if cursor is None:
                    return None
                conditions.append(past(c, cursor, newer=order == "asc"))
            keys = in_order(c, order == "asc")
            rows = conn.execute(select(files).where(*conditions).order_by(*keys).limit(limit + 1)).all()
            return FilePage([_file(row) for row in rows[:limit]], len(rows) > limit)

        return await self.db.read(page)

    async def delete_file(self, file_id: str, owner: str | None = None) -> bool:
        """An expired file can still be deleted (its bytes go too); another owner's cannot."""
        c = files.c
        mine = [c.owner == owner] if owner is not None else []

        def remove(conn: Connection) -> bool:
            if conn.execute(select(c.pk).where(c.id == file_id, *mine)).first() is None:
                return False
            # The content row goes explicitly: SQLite enforces the cascade only with foreign keys on.
            conn.execute(delete(file_contents).where(file_contents.c.file_id == file_id))
            conn.execute(delete(files).where(c.id == file_id))
            return True

        return await self.db.write(remove)
