"""The two short texts a response is listed by: the first text of its input and of its output.

    input_text(stored.input_items)            # "What is the capital of France?"
    output_text(stored.response["output"])    # "Paris."

Both are cut to `LIMIT` characters; the console's table shows them and its text search reads
them (`ResponseFilter.text`), so neither has to open the stored response.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

LIMIT = 300
TEXT_PARTS = ("input_text", "output_text", "text")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") in TEXT_PARTS:
                text = part.get("text")
                if isinstance(text, str):
                    return text
    return ""


def first_text(items: Iterable[Any], roles: tuple[str, ...]) -> str:
    """The first non-empty text of a message item with one of `roles`, cut to `LIMIT`."""
    for item in items:
        if not isinstance(item, dict) or item.get("type", "message") != "message":
            continue
        if item.get("role") not in roles:
            continue
        text = _text(item.get("content")).strip()
        if text:
            return text[:LIMIT]
    return ""


def input_text(items: Iterable[Any]) -> str:
    """The user's first words; the instructions' only when the input has no user text."""
    items = list(items)
    return first_text(items, ("user",)) or first_text(items, ("developer", "system"))


def output_text(items: Iterable[Any]) -> str:
    return first_text(items, ("assistant",))
