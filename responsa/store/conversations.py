"""Conversations and their items on SQLAlchemy (mixed into `SqlStore`)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Connection

from responsa.errors import DuplicateItem
from responsa.store.base import ConversationPage, ItemPage, Order, StoredConversation
from responsa.store.database import Database
from responsa.store.tables import conversation_items, conversations
from responsa.types import Item


def _conversation(row: Any) -> StoredConversation:
    return StoredConversation(row.id, row.created_at, orjson.loads(row.metadata), row.owner)


def _mine(conversation_id: str, owner: str | None) -> list[Any]:
    """The conditions that find a conversation by id, for one owner or (None) any."""
    conditions: list[Any] = [conversations.c.id == conversation_id]
    if owner is not None:
        conditions.append(conversations.c.owner == owner)
    return conditions


def _get_conversation(conn: Connection, conversation_id: str, owner: str | None) -> StoredConversation | None:
    row = conn.execute(select(conversations).where(*_mine(conversation_id, owner))).first()
    return _conversation(row) if row is not None else None


class SqlConversations:
    db: Database

    async def list_conversations(
        self, *, after: str | None, limit: int, owner: str | None = None
    ) -> ConversationPage | None:
        def page(conn: Connection) -> ConversationPage | None:
            c = conversations.c
            conditions: list[Any] = [c.owner == owner] if owner is not None else []
            if after is not None:
                cursor = conn.execute(select(c.created_at, c.id).where(*_mine(after, owner))).first()
                if cursor is None:
                    return None
                older = and_(c.created_at == cursor.created_at, c.id < cursor.id)
                conditions.append(or_(c.created_at < cursor.created_at, older))
            query = select(conversations).where(*conditions).order_by(c.created_at.desc(), c.id.desc())
            rows = conn.execute(query.limit(limit + 1)).all()
            return ConversationPage([_conversation(row) for row in rows[:limit]], len(rows) > limit)

        return await self.db.read(page)

    def _append_items(
        self,
        conn: Connection,
        conversation_id: str,
        items: list[Item],
        created_at: int,
        owner: str | None = None,
    ) -> bool:
        """Append within the caller's transaction. The counter update comes first, so the
        transaction takes its write lock at once and concurrent appends queue behind it."""
        if not items:
            exists = conn.scalar(select(conversations.c.id).where(*_mine(conversation_id, owner)))
            return exists is not None
        end = conn.scalar(
            update(conversations)
            .where(*_mine(conversation_id, owner))
            .values(next_position=conversations.c.next_position + len(items))
            .returning(conversations.c.next_position)
        )
        if end is None:
            return False
        ids = [item["id"] for item in items]
        taken = conn.scalars(
            select(conversation_items.c.id).where(
                conversation_items.c.conversation_id == conversation_id, conversation_items.c.id.in_(ids)
            )
        ).first()
        if taken is not None or len(set(ids)) < len(ids):  # checked before, unless a race got there first
            duplicate = taken or next(i for i in ids if ids.count(i) > 1)
            raise DuplicateItem(duplicate)
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
        conn.execute(conversation_items.insert(), rows)
        return True

    async def create_conversation(self, conversation: StoredConversation, items: list[Item]) -> None:
        def create(conn: Connection) -> None:
            conn.execute(
                conversations.insert().values(
                    id=conversation.id,
                    created_at=conversation.created_at,
                    metadata=orjson.dumps(conversation.metadata).decode(),
                    next_position=0,
                    owner=conversation.owner,
                )
            )
            self._append_items(conn, conversation.id, items, conversation.created_at)

        await self.db.write(create)

    async def get_conversation(
        self, conversation_id: str, owner: str | None = None
    ) -> StoredConversation | None:
        return await self.db.read(_get_conversation, conversation_id, owner)

    async def update_conversation(
        self, conversation_id: str, metadata: dict[str, str], owner: str | None = None
    ) -> StoredConversation | None:
        def change(conn: Connection) -> StoredConversation | None:
            result = conn.execute(
                update(conversations)
                .where(*_mine(conversation_id, owner))
                .values(metadata=orjson.dumps(metadata).decode())
            )
            return _get_conversation(conn, conversation_id, owner) if result.rowcount else None

        return await self.db.write(change)

    async def delete_conversation(self, conversation_id: str, owner: str | None = None) -> bool:
        def remove(conn: Connection) -> bool:
            if conn.scalar(select(conversations.c.id).where(*_mine(conversation_id, owner))) is None:
                return False
            # Items go explicitly too: SQLite only cascades with foreign keys switched on.
            conn.execute(
                delete(conversation_items).where(conversation_items.c.conversation_id == conversation_id)
            )
            return bool(
                conn.execute(delete(conversations).where(conversations.c.id == conversation_id)).rowcount
            )

        return await self.db.write(remove)

    async def add_items(
        self, conversation_id: str, items: list[Item], created_at: int, owner: str | None = None
    ) -> bool:
        return await self.db.write(self._append_items, conversation_id, items, created_at, owner)

    async def list_items(
        self, conversation_id: str, *, after: str | None, limit: int | None, order: Order
    ) -> ItemPage | None:
        c = conversation_items.c

        def page(conn: Connection) -> ItemPage | None:
            conditions: list[Any] = [c.conversation_id == conversation_id]
            if after is not None:
                position = conn.scalar(
                    select(c.position).where(c.conversation_id == conversation_id, c.id == after)
                )
                if position is None:
                    return None
                conditions.append(c.position > position if order == "asc" else c.position < position)
            key = c.position.asc() if order == "asc" else c.position.desc()
            query = select(c.item).where(*conditions).order_by(key)
            if limit is not None:
                query = query.limit(limit + 1)
            rows = conn.execute(query).all()
            has_more = limit is not None and len(rows) > limit
            return ItemPage([orjson.loads(row.item) for row in rows[:limit]], has_more)

        return await self.db.read(page)

    async def all_items(self, conversation_id: str, owner: str | None = None) -> list[Item] | None:
        c = conversation_items.c

        def read(conn: Connection) -> list[Item] | None:
            if conn.scalar(select(conversations.c.id).where(*_mine(conversation_id, owner))) is None:
                return None
            query = select(c.item).where(c.conversation_id == conversation_id).order_by(c.position)
            return [orjson.loads(raw) for raw in conn.scalars(query)]

        return await self.db.read(read)

    async def item_ids(self, conversation_id: str) -> list[str]:
        c = conversation_items.c
        query = select(c.id).where(c.conversation_id == conversation_id).order_by(c.position)
        ids: list[str] = await self.db.read(lambda conn: list(conn.scalars(query)))
        return ids

    async def get_item(self, conversation_id: str, item_id: str) -> Item | None:
        c = conversation_items.c

        def get(conn: Connection) -> Item | None:
            raw = conn.scalar(select(c.item).where(c.conversation_id == conversation_id, c.id == item_id))
            return orjson.loads(raw) if raw is not None else None

        return await self.db.read(get)

    async def delete_item(self, conversation_id: str, item_id: str) -> bool:
        c = conversation_items.c

        def remove(conn: Connection) -> bool:
            statement = delete(conversation_items).where(
                c.conversation_id == conversation_id, c.id == item_id
            )
            return bool(conn.execute(statement).rowcount)

        return await self.db.write(remove)

    async def acquire_turn(self, conversation_id: str, owner: str, ttl_s: float) -> bool | None:
        c = conversations.c

        def acquire(conn: Connection) -> bool | None:
            now = time.time()
            result = conn.execute(
                update(conversations)
                .where(
                    c.id == conversation_id,
                    or_(c.turn_owner.is_(None), c.turn_owner == owner, c.turn_expires_at < now),
                )
                .values(turn_owner=owner, turn_expires_at=now + ttl_s)
            )
            if result.rowcount:
                return True
            return False if conn.scalar(select(func.count()).where(c.id == conversation_id)) else None

        return await self.db.write(acquire)

    async def release_turn(self, conversation_id: str, owner: str) -> None:
        c = conversations.c
        statement = (
            update(conversations)
            .where(and_(c.id == conversation_id, c.turn_owner == owner))
            .values(turn_owner=None, turn_expires_at=None)
        )
        await self.db.write(lambda conn: conn.execute(statement))
