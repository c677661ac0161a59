"""Identifier formats. Conversations and their items use 48 lowercase hex digits (the format
OpenAI's ids have); responses and output items use the same length so every id looks alike.

The items a response makes (its output items, and its input items that came without an id)
carry the first half of the response's id: `msg_<24 hex of resp_...><24 random hex>`. An
`item_reference` to such an item finds its response by id alone, so storing a response writes
no extra index rows for them (`Store.find_items`).
"""

from __future__ import annotations

import re
import secrets

_STEM = 24
_DERIVED = re.compile(r"^[a-z]+_([0-9a-f]{24})[0-9a-f]{24}$")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def response_id() -> str:
    return new_id("resp")


def message_id() -> str:
    return new_id("msg")


def item_id(prefix: str, response_id: str) -> str:
    """An id for an item of `response_id`, which `response_stem` reads back."""
    stem = response_id.partition("_")[2][:_STEM]
    if len(stem) != _STEM:
        return new_id(prefix)
    return f"{prefix}_{stem}{secrets.token_hex(_STEM // 2)}"


def response_stem(item_id: str) -> str | None:
    """The first 24 hex digits of the response an item id was made for (or None)."""
    match = _DERIVED.match(item_id)
    return match.group(1) if match else None


def belongs_to(item_id: str, response_id: str) -> bool:
    stem = response_stem(item_id)
    return stem is not None and response_id.partition("_")[2].startswith(stem)
