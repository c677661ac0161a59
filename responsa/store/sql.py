"""The Store on SQLAlchemy 2 async: SQLite through aiosqlite (WAL) or PostgreSQL through asyncpg."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import and_, delete, event, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from responsa.store.base import Order, Page, Store, StoredResponse
from responsa.store.conversations import SqlConversations
from responsa.store.jobs import SqlJobs
from responsa.store.tables import responses
from responsa.types import Item

log = logging.getLogger("responsa.store")

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x52455350  # "RESP": the advisory lock key held while migrating


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _row_to_stored(row: Any) -> StoredResponse:
    return StoredResponse(
        id=row.id,
        created_at=row.created_at,
        model=row.model,
        status=row.status,
        response=orjson.loads(row.response),
        input_items=orjson.loads(row.input_items),
        messages=orjson.loads(row.messages),
        previous_response_id=row.previous_response_id,
        conversation_id=row.conversation_id,
    )


class SqlStore(SqlConversations, SqlJobs, Store):
    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.engine: AsyncEngine | None = None
        self._upsert_statement: Any = None
        self._init_jobs()

    @property
    def _engine(self) -> AsyncEngine:
        if self.engine is None:
            raise RuntimeError("SqlStore.start() was not awaited")
        return self.engine

    async def start(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(self.url)
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            engine = create_async_engine(self.url, pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine = engine
        await self._migrate(engine)

    async def _migrate(self, engine: AsyncEngine) -> None:
        """Apply migrations once even when several workers or replicas start together: a
        transaction-scoped advisory lock on PostgreSQL, a file lock beside the SQLite file."""
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                await conn.run_sync(_upgrade)
            return
        database = self.url.database
        lock_path = (
            Path(f"{database}.migrate.lock").expanduser() if database and database != ":memory:" else None
        )
        with contextlib.ExitStack() as stack:
            if lock_path is not None:
                handle = stack.enter_context(lock_path.open("a"))
                await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
            async with engine.begin() as conn:
                await conn.run_sync(_upgrade)

    async def close(self) -> None:
        await self._close_listener()
        if self.engine is not None:
            await self.engine.dispose()
            self.engine = None

    def _upsert(self) -> Any:
        """INSERT ... ON CONFLICT (id) DO UPDATE, built once: SQLAlchemy then reuses its compiled form."""
        if self._upsert_statement is None:
            dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(responses)
            columns = [c.name for c in responses.columns if c.name not in ("pk", "id")]
            self._upsert_statement = insert.on_conflict_do_update(
                index_elements=[responses.c.id], set_={name: insert.excluded[name] for name in columns}
            )
        return self._upsert_statement

    @staticmethod
    def _values(stored: StoredResponse) -> dict[str, Any]:
        return {
            "id": stored.id,
            "created_at": stored.created_at,
            "model": stored.model,
            "status": stored.status,
            "previous_response_id": stored.previous_response_id,
            "conversation_id": stored.conversation_id,
            "response": orjson.dumps(stored.response).decode(),
            "input_items": orjson.dumps(stored.input_items).decode(),
            "messages": orjson.dumps(stored.messages).decode(),
        }

    async def _save_in(self, conn: AsyncConnection, stored: StoredResponse) -> None:
        await conn.execute(self._upsert(), self._values(stored))

    async def save_response(
        self, stored: StoredResponse, conversation_items: list[Item] | None = None
    ) -> None:
        async with self._engine.begin() as conn:
            if stored.conversation_id is not None and conversation_items is not None:
                await self.append_items(conn, stored.conversation_id, conversation_items, stored.created_at)
            await self._save_in(conn, stored)

    async def get_response(self, response_id: str) -> StoredResponse | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(responses).where(responses.c.id == response_id))).first()
        return _row_to_stored(row) if row is not None else None

    async def delete_response(self, response_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(responses).where(responses.c.id == response_id))
        return bool(result.rowcount)

    async def list_responses(
        self, *, after: str | None, before: str | None, limit: int, order: Order, model: str | None
    ) -> Page | None:
        c = responses.c
        async with self._engine.connect() as conn:
            conditions: list[Any] = []
            if model is not None:
                conditions.append(c.model == model)
            for cursor_id, forward in ((after, True), (before, False)):
                if cursor_id is None:
                    continue
                cursor = (await conn.execute(select(c.created_at, c.pk).where(c.id == cursor_id))).first()
                if cursor is None:
                    return None
                newer = (order == "asc") == forward
                if newer:
                    conditions.append(
                        or_(
                            c.created_at > cursor.created_at,
                            and_(c.created_at == cursor.created_at, c.pk > cursor.pk),
                        )
                    )
                else:
                    conditions.append(
                        or_(
                            c.created_at < cursor.created_at,
                            and_(c.created_at == cursor.created_at, c.pk < cursor.pk),
                        )
                    )
            # Paging backwards from `before` reads the nearest rows first, then restores the order.
            ascending = (order == "asc") != (before is not None and after is None)
            keys = (c.created_at.asc(), c.pk.asc()) if ascending else (c.created_at.desc(), c.pk.desc())
            query = select(responses).where(*conditions).order_by(*keys).limit(limit + 1)
            rows = (await conn.execute(query)).all()
        has_more = len(rows) > limit
        page = [_row_to_stored(row) for row in rows[:limit]]
        if before is not None and after is None:
            page.reverse()
        return Page(page, has_more)
