"""The Store interface: what the engine and the routes need from persistence.

    store = SqlStore("sqlite+aiosqlite:///responsa.db")
    await store.start()                   # connects and applies migrations
    await store.save_response(stored)     # one write per finished response
    stored = await store.get_response("resp_...")

Implementations raise nothing for missing rows: lookups return None and deletes return False;
the engine decides which error the client sees.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

from responsa.types import ChatMessages, Item

Order = Literal["asc", "desc"]


@dataclass(slots=True)
class StoredResponse:
    id: str
    created_at: int
    model: str
    status: str
    response: dict[str, Any]
    input_items: list[Item] = field(default_factory=list)
    messages: ChatMessages = field(default_factory=list)
    previous_response_id: str | None = None
    conversation_id: str | None = None


@dataclass(slots=True)
class Page:
    rows: list[StoredResponse]
    has_more: bool


class Store(ABC):
    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def save_response(self, stored: StoredResponse) -> None:
        """Insert or replace a response with its items and messages, atomically."""

    @abstractmethod
    async def get_response(self, response_id: str) -> StoredResponse | None: ...

    @abstractmethod
    async def delete_response(self, response_id: str) -> bool: ...

    @abstractmethod
    async def list_responses(
        self, *, after: str | None, before: str | None, limit: int, order: Order, model: str | None
    ) -> Page | None:
        """A page of responses; None when the `after`/`before` cursor names no stored response."""
