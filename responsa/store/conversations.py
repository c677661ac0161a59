"""Conversations and their items on SQLAlchemy (mixed into `SqlStore`)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from responsa.store.base import ItemPage, Order, StoredConversation
from responsa.store.tables import conversation_items, conversations
from responsa.types import Item


def _conversation(row: Any) -> StoredConversation:
    return StoredConversation(row.id, row.created_at, orjson.loads(row.metadata))


class SqlConversations:
    @property
    def _engine(self) -> AsyncEngine:
        raise NotImplementedError  # provided by SqlStore

    def _dialect(self) -> Any:
        return postgresql if self._engine.dialect.name == "postgresql" else sqlite

    def _item_upsert(self) -> Any:
        statement = getattr(self, "_item_upsert_statement", None)
        if statement is None:
            insert = self._dialect().insert(conversation_items)
            statement = insert.on_conflict_do_update(
                index_elements=[conversation_items.c.conversation_id, conversation_items.c.id],
                set_={"item": insert.excluded.item},
            )
            self._item_upsert_statement = statement
        return statement

    async def append_items(
        self, conn: AsyncConnection, conversation_id: str, items: list[Item], created_at: int
    ) -> bool:
        """Append within the caller's transaction. The counter update comes first, so the
        transaction takes its write lock at once and concurrent appends queue behind it."""
        if not items:
            exists = await conn.scalar(
                select(conversations.c.id).where(conversations.c.id == conversation_id)
            )
            return exists is not None
        end = await conn.scalar(
            update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(next_position=conversations.c.next_position + len(items))
            .returning(conversations.c.next_position)
        )
        if end is None:
            return False
        start = end - len(items)
        rows = [
            {
                "conversation_id": conversation_id,
                "position": start + i,
                "id": item["id"],
                "created_at": created_at,
                "item": orjson.dumps(item).decode(),
            }
            for i, item in enumerate(items)
        ]
        await conn.execute(self._item_upsert(), rows)
        return True

    async def create_conversation(self, conversation: StoredConversation, items: list[Item]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                conversations.insert().values(
                    id=conversation.id,
                    created_at=conversation.created_at,
                    metadata=orjson.dumps(conversation.metadata).decode(),
                    next_position=0,
                )
            )
            await self.append_items(conn, conversation.id, items, conversation.created_at)

    async def get_conversation(self, conversation_id: str) -> StoredConversation | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(conversations).where(conversations.c.id == conversation_id))
            ).first()
        return _conversation(row) if row is not None else None

    async def update_conversation(
        self, conversation_id: str, metadata: dict[str, str]
    ) -> StoredConversation | None:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(metadata=orjson.dumps(metadata).decode())
            )
            if not result.rowcount:
                return None
            row = (
                await conn.execute(select(conversations).where(conversations.c.id == conversation_id))
            ).first()
        return _conversation(row)

    async def delete_conversation(self, conversation_id: str) -> bool:
        async with self._engine.begin() as conn:
            # Items go explicitly too: SQLite only cascades with foreign keys switched on.
            await conn.execute(
                delete(conversation_items).where(conversation_items.c.conversation_id == conversation_id)
            )
            result = await conn.execute(delete(conversations).where(conversations.c.id == conversation_id))
        return bool(result.rowcount)

    async def add_items(self, conversation_id: str, items: list[Item], created_at: int) -> bool:
        async with self._engine.begin() as conn:
            return await self.append_items(conn, conversation_id, items, created_at)

    async def list_items(
        self, conversation_id: str, *, after: str | None, limit: int | None, order: Order
    ) -> ItemPage | None:
        c = conversation_items.c
        conditions: list[Any] = [c.conversation_id == conversation_id]
        async with self._engine.connect() as conn:
            if after is not None:
                position = await conn.scalar(
                    select(c.position).where(c.conversation_id == conversation_id, c.id == after)
                )
                if position is None:
                    return None
                conditions.append(c.position > position if order == "asc" else c.position < position)
            key = c.position.asc() if order == "asc" else c.position.desc()
            query = select(c.item).where(*conditions).order_by(key)
            if limit is not None:
                query = query.limit(limit + 1)
            rows = (await conn.execute(query)).all()
        has_more = limit is not None and len(rows) > limit
        return ItemPage([orjson.loads(row.item) for row in rows[:limit]], has_more)

    async def get_item(self, conversation_id: str, item_id: str) -> Item | None:
        c = conversation_items.c
        async with self._engine.connect() as conn:
            raw = await conn.scalar(
                select(c.item).where(c.conversation_id == conversation_id, c.id == item_id)
            )
        return orjson.loads(raw) if raw is not None else None

    async def delete_item(self, conversation_id: str, item_id: str) -> bool:
        c = conversation_items.c
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(conversation_items).where(c.conversation_id == conversation_id, c.id == item_id)
            )
        return bool(result.rowcount)

    async def acquire_turn(self, conversation_id: str, owner: str, ttl_s: float) -> bool | None:
        c = conversations.c
        now = time.time()
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(conversations)
                .where(
                    c.id == conversation_id,
                    or_(c.turn_owner.is_(None), c.turn_owner == owner, c.turn_expires_at < now),
                )
                .values(turn_owner=owner, turn_expires_at=now + ttl_s)
            )
            if result.rowcount:
                return True
            exists = await conn.scalar(select(func.count()).where(c.id == conversation_id))
        return False if exists else None

    async def release_turn(self, conversation_id: str, owner: str) -> None:
        c = conversations.c
        async with self._engine.begin() as conn:
            await conn.execute(
                update(conversations)
                .where(and_(c.id == conversation_id, c.turn_owner == owner))
                .values(turn_owner=None, turn_expires_at=None)
            )
