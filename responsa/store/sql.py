"""The Store on SQLAlchemy 2, SQLite or PostgreSQL: the responses part, and the whole.

Each operation is a plain function over a `Connection` that `Database` runs in one transaction
(see `responsa.store.database` for where that runs and why).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from responsa import ids
from responsa.store import preview
from responsa.store.base import Order, Page, ResponseFilter, Store, StoredResponse
from responsa.store.conversations import SqlConversations
from responsa.store.database import Database
from responsa.store.files import SqlFiles
from responsa.store.idempotency import SqlIdempotency
from responsa.store.jobs import SqlJobs
from responsa.store.keys import SqlKeys
from responsa.store.paging import in_order, past
from responsa.store.prompts import SqlPrompts
from responsa.store.tables import (
    background_jobs,
    conversation_items,
    conversations,
    idempotency_keys,
    response_events,
    response_items,
    responses,
    server_keys,
)
from responsa.store.vector_stores import SqlVectorStores
from responsa.types import Item

log = logging.getLogger("responsa.store")

MIGRATIONS = Path(__file__).parent / "migrations"


def _upgrade(connection: Connection) -> None:
    """Migrate to the newest schema; quiet when the database has it already (Alembic's own
    lines then say nothing new at every start)."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    heads = set(ScriptDirectory.from_config(config).get_heads())
    alembic_log = logging.getLogger("alembic.runtime.migration")
    quiet = alembic_log.level
    alembic_log.setLevel(logging.WARNING)  # "Context impl ...", "Will assume ..." at every start
    try:
        current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        alembic_log.setLevel(quiet)
    if current == heads:
        return
    log.info("migrating the database from %s to %s", ", ".join(sorted(current)) or "empty", ", ".join(heads))
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
        owner=row.owner,
        trace=orjson.loads(row.trace) if row.trace else None,
    )


def _filtered(where: ResponseFilter) -> list[Any]:
    """The SQL conditions of a console filter; text is a case-insensitive substring of the first
    input or output text (LIKE's wildcards in it are literal)."""
    c = responses.c
    conditions: list[Any] = []
    if where.status is not None:
        conditions.append(c.status == where.status)
    if where.conversation_id is not None:
        conditions.append(c.conversation_id == where.conversation_id)
    if where.previous_response_id is not None:
        conditions.append(c.previous_response_id == where.previous_response_id)
    if where.created_after is not None:
        conditions.append(c.created_at >= where.created_after)
    if where.created_before is not None:
        conditions.append(c.created_at < where.created_before)
    if where.text:
        pattern = "%" + where.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(c.input_text.ilike(pattern, escape="\\"), c.output_text.ilike(pattern, escape="\\"))
        )
    return conditions


class SqlStore(
    SqlConversations, SqlFiles, SqlJobs, SqlIdempotency, SqlKeys, SqlPrompts, SqlVectorStores, Store
):
    def __init__(self, url: str) -> None:
        self.db = Database(url)
        self._upsert_statement: Any = None
        self._index_statement: Any = None
        self._init_jobs()

    async def start(self) -> None:
        await self.db.start(_upgrade)

    async def close(self) -> None:
        await self._close_listener()
        await self.db.close()

    def _upsert(self) -> Any:
        """INSERT ... ON CONFLICT (id) DO UPDATE, built once: SQLAlchemy then reuses its compiled form."""
        if self._upsert_statement is None:
            dialect = postgresql if self.db.dialect == "postgresql" else sqlite
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
            "owner": stored.owner,
            "input_text": preview.input_text(stored.input_items),
            "output_text": preview.output_text(stored.response.get("output") or ()),
            "trace": orjson.dumps(stored.trace).decode() if stored.trace is not None else None,
        }

    def _save_in(self, conn: Connection, stored: StoredResponse) -> None:
        conn.execute(self._upsert(), self._values(stored))
        # Items whose id was made for this response are found through it (`ids.item_id`); only
        # other ids (given by the client, or referenced from elsewhere) need an index row.
        item_ids = {
            item["id"]
            for item in (*stored.input_items, *stored.response.get("output", ()))
            if isinstance(item.get("id"), str) and not ids.belongs_to(item["id"], stored.id)
        }
        if item_ids:
            if self._index_statement is None:
                dialect = postgresql if self.db.dialect == "postgresql" else sqlite
                self._index_statement = dialect.insert(response_items).on_conflict_do_nothing()
            rows = [
                {"item_id": i, "response_id": stored.id, "created_at": stored.created_at} for i in item_ids
            ]
            conn.execute(self._index_statement, rows)

    def _save(
        self, conn: Connection, stored: StoredResponse, items: list[Item] | None, existing: bool
    ) -> None:
        if existing and conn.scalar(select(responses.c.pk).where(responses.c.id == stored.id)) is None:
            return  # deleted while it ran: it stays deleted
        if stored.conversation_id is not None and items is not None:
            self._append_items(conn, stored.conversation_id, items, stored.created_at)
        self._save_in(conn, stored)

    async def save_response(
        self, stored: StoredResponse, conversation_items: list[Item] | None = None, *, existing: bool = False
    ) -> None:
        await self.db.write(self._save, stored, conversation_items, existing)

    async def get_response(self, response_id: str, owner: str | None = None) -> StoredResponse | None:
        def get(conn: Connection) -> StoredResponse | None:
            query = select(responses).where(responses.c.id == response_id)
            if owner is not None:
                query = query.where(responses.c.owner == owner)
            row = conn.execute(query).first()
            return _row_to_stored(row) if row is not None else None

        return await self.db.read(get)

    async def response_status(self, response_id: str) -> str | None:
        query = select(responses.c.status).where(responses.c.id == response_id)
        status: str | None = await self.db.read(lambda conn: conn.scalar(query))
        return status

    async def delete_response(self, response_id: str, owner: str | None = None) -> bool:
        def remove(conn: Connection) -> bool:
            statement = delete(responses).where(responses.c.id == response_id)
            if owner is not None:
                statement = statement.where(responses.c.owner == owner)
            if not conn.execute(statement).rowcount:
                return False
            conn.execute(delete(response_items).where(response_items.c.response_id == response_id))
            conn.execute(delete(response_events).where(response_events.c.response_id == response_id))
            conn.execute(delete(background_jobs).where(background_jobs.c.response_id == response_id))
            conn.execute(delete(idempotency_keys).where(idempotency_keys.c.response_id == response_id))
            return True

        return await self.db.write(remove)

    async def find_items(self, item_ids: list[str], owner: str | None = None) -> dict[str, Item]:
        def find(conn: Connection) -> dict[str, Item]:
            found: dict[str, Item] = {}
            ci = conversation_items.c
            query = select(ci.item).where(ci.id.in_(item_ids)).order_by(ci.pk)
            if owner is not None:
                query = query.join(conversations, conversations.c.id == ci.conversation_id).where(
                    conversations.c.owner == owner
                )
            for raw in conn.scalars(query):
                item = orjson.loads(raw)
                found[item["id"]] = item
            ri, rc = response_items.c, responses.c
            indexed = set(conn.scalars(select(ri.response_id).where(ri.item_id.in_(item_ids))))
            # Ids made for a response carry half of its id: its row is a range on the id index.
            stems = {stem for i in item_ids if (stem := ids.response_stem(i)) is not None}
            ranges = [and_(rc.id >= f"resp_{stem}", rc.id < f"resp_{stem}g") for stem in stems]
            conditions = [*ranges, rc.id.in_(indexed)] if indexed else ranges
            if not conditions:
                return found
            query = select(rc.input_items, rc.response).where(or_(*conditions))
            if owner is not None:
                query = query.where(rc.owner == owner)
            rows = conn.execute(query.order_by(rc.created_at, rc.pk)).all()
            wanted = set(item_ids)
            for row in rows:  # oldest first: the newest response holding an id wins
                response = orjson.loads(row.response)
                for item in [*orjson.loads(row.input_items), *response.get("output", ())]:
                    if item.get("id") in wanted:
                        found[item["id"]] = item
            return found

        return await self.db.read(find)

    async def server_key(self, name: str, make: Callable[[], str]) -> str:
        def get_or_make(conn: Connection) -> str:
            dialect = postgresql if self.db.dialect == "postgresql" else sqlite
            conn.execute(dialect.insert(server_keys).values(name=name, value=make()).on_conflict_do_nothing())
            return str(conn.scalar(select(server_keys.c.value).where(server_keys.c.name == name)))

        return await self.db.write(get_or_make)

    async def list_responses(
        self,
        *,
        after: str | None,
        before: str | None,
        limit: int,
        order: Order,
        model: str | None,
        owner: str | None = None,
        where: ResponseFilter | None = None,
    ) -> Page | None:
        return await self.db.read(self._list_responses, after, before, limit, order, model, owner, where)

    @staticmethod
    def _list_responses(
        conn: Connection,
        after: str | None,
        before: str | None,
        limit: int,
        order: Order,
        model: str | None,
        owner: str | None,
        where: ResponseFilter | None = None,
    ) -> Page | None:
        c = responses.c
        conditions: list[Any] = _filtered(where) if where is not None else []
        if model is not None:
            conditions.append(c.model == model)
        if owner is not None:
            conditions.append(c.owner == owner)
        for cursor_id, forward in ((after, True), (before, False)):
            if cursor_id is None:
                continue
            mine = [c.owner == owner] if owner is not None else []  # another owner's id is no cursor
            cursor = conn.execute(select(c.created_at, c.pk).where(c.id == cursor_id, *mine)).first()
            if cursor is None:
                return None
            conditions.append(past(c, cursor, newer=(order == "asc") == forward))
        # Paging backwards from `before` reads the nearest rows first, then restores the order.
        ascending = (order == "asc") != (before is not None and after is None)
        rows = conn.execute(
            select(responses).where(*conditions).order_by(*in_order(c, ascending)).limit(limit + 1)
        ).all()
        has_more = len(rows) > limit
        page = [_row_to_stored(row) for row in rows[:limit]]
        if before is not None and after is None:
            page.reverse()
        return Page(page, has_more)
