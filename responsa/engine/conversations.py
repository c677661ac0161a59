"""Conversations: item validation and presentation, history, and the turn lease.

A conversation's items are the truth (SPEC §3): a response in a conversation sends all of them,
in order, converted shape-preserving, followed by its own input. Items created through the
Conversations API keep their content as given; items a response adds are its input items (with
message content as `input_text` parts) and its output items.

Turns on one conversation run one at a time, across processes and replicas: each takes a lease
in the database (`conversation_turn`) before reading the items and gives it back after its own
items are appended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from responsa.engine import translate
from responsa.errors import Conflict, DuplicateItem, InvalidRequest, NotFound
from responsa.store.base import Store
from responsa.types import ChatMessages, Item

log = logging.getLogger("responsa.engine")

CONVERSATION_ID = re.compile(r"conv_[0-9a-f]{48}")  # the whole id (fullmatch: no trailing newline)
MAX_ITEMS_PER_CALL = 20


@dataclass(frozen=True, slots=True)
class TurnLease:
    """How turns on one conversation take turns: a holder that died frees the conversation after
    `ttl_s` (it renews every third of that while alive); a second turn waits up to `wait_s` for
    the first to finish, then is refused with a 409."""

    ttl_s: float = 30.0
    wait_s: float = 300.0


def check_id(conversation_id: object, param: str = "conversation_id") -> str:
    if not isinstance(conversation_id, str) or not CONVERSATION_ID.fullmatch(conversation_id):
        raise InvalidRequest(
            f"Invalid value for '{param}': {conversation_id!r}. Conversation IDs must match the format "
            "'conv_' followed by 48 lowercase hex characters.",
            param=param,
            code="invalid_conversation_id",
        )
    return conversation_id


def not_found(conversation_id: str, param: str = "conversation_id") -> NotFound:
    return NotFound(f"Conversation '{conversation_id}' not found.", param=param)


def prepare_items(items: object, param: str = "items") -> list[Item]:
    """Items given to the Conversations API: validated, typed, with ids; content kept as given."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidRequest(f"Invalid type for '{param}': expected an array of items.", param=param)
    if len(items) > MAX_ITEMS_PER_CALL:
        raise InvalidRequest(
            f"Invalid value for '{param}': at most {MAX_ITEMS_PER_CALL} items can be added at once.",
            param=param,
        )
    try:
        translate.to_chat_messages(items, first_new=len(items))
    except InvalidRequest as exc:
        exc.message = exc.message.replace("'input[", f"'{param}[")
        exc.param = exc.param.replace("input[", f"{param}[", 1) if exc.param else param
        raise
    prepared = [translate.with_id({**item, "type": item.get("type") or "message"}) for item in items]
    check_new_ids(prepared, (), param)
    return prepared


def check_new_ids(new: list[Item], existing: Iterable[str], param: str) -> None:
    """An item id is used once per conversation: an item given again (or twice in one request)
    is a 400, as OpenAI says it, rather than history rewritten in place."""
    seen = set(existing)
    for i, item in enumerate(new):
        item_id = item.get("id")
        if not isinstance(item_id, str):
            continue
        if item_id in seen:
            raise DuplicateItem(item_id, f"{param}[{i}].id")
        seen.add(item_id)


def present(item: Item) -> Item:
    return translate.normalize_item(item)


def history(
    items: list[Item], new_input: str | list[Item], options: translate.ChatOptions = translate.DEFAULT_OPTIONS
) -> ChatMessages:
    """Upstream messages for a turn: the conversation's items, then the new input. From the
    last `compaction` item on, the items before it are only their user messages (they are what
    the compaction summarized, `engine/compaction.py`)."""
    new_items: list[Item] = (
        [{"type": "message", "role": "user", "content": new_input}]
        if isinstance(new_input, str)
        else new_input
    )
    last = next((i for i in range(len(items) - 1, -1, -1) if items[i].get("type") == "compaction"), None)
    if last is not None:
        users = [i for i in items[:last] if i.get("type", "message") == "message" and i.get("role") == "user"]
        items = [*users, *items[last:]]
    return translate.to_chat_messages(items + new_items, first_new=len(items), options=options)


async def all_items(store: Store, conversation_id: str, owner: str | None = None) -> list[Item]:
    items = await store.all_items(conversation_id, owner)
    if items is None:
        raise not_found(conversation_id, "conversation")
    return items


@contextlib.asynccontextmanager
async def conversation_turn(
    store: Store, conversation_id: str, owner: str, lease: TurnLease
) -> AsyncIterator[None]:
    """Hold the conversation's turn lease for the body; renewed while held, released after."""
    delay = 0.005
    deadline = time.monotonic() + lease.wait_s
    while True:
        taken = await store.acquire_turn(conversation_id, owner, lease.ttl_s)
        if taken is None:
            raise not_found(conversation_id, "conversation")
        if taken:
            break
        if time.monotonic() > deadline:
            raise Conflict(
                f"Conversation '{conversation_id}' is busy with another response.", param="conversation"
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease.ttl_s / 3)
            await store.acquire_turn(conversation_id, owner, lease.ttl_s)

    renewer = asyncio.get_running_loop().create_task(renew())
    try:
        yield
    finally:
        renewer.cancel()
        release = asyncio.get_running_loop().create_task(store.release_turn(conversation_id, owner))
        try:  # shielded: a cancelled stream must still give the conversation back
            await asyncio.shield(release)
        except asyncio.CancelledError:
            log.debug("turn lease of %s released in the background", conversation_id)
            raise
