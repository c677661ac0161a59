"""The `compaction` item family: a summary of earlier context that stands in for it.

    {"type": "compaction", "id": "cmp_...", "encrypted_content": "rs1...."}

Its `encrypted_content` is Responsa's own payload, sealed with the server key (`responsa.crypto`,
purpose "compaction", versioned and authenticated): `{"v": 1, "summary": <the model's summary>}`.
Nothing is kept on the server, so a stateless client can start a new chain from it; a tampered
or foreign payload is a 400. Sent back as input it becomes one assistant message that hands the
summary on (the reference server's form, so OGX-mode requests match its recordings; in OGX mode
a plain-text `encrypted_content`, as that server writes it, is taken as the message itself).

A `compaction_trigger` item (Codex's remote compaction) asks for a compaction instead of an
answer; it adds no message (`engine/compaction.py` reads it).
"""

from __future__ import annotations

from typing import Any

from responsa import ids
from responsa.crypto import PREFIX as SEALED_PREFIX
from responsa.crypto import Sealer
from responsa.engine.items.base import ChatBuilder, require_str
from responsa.errors import InvalidRequest
from responsa.types import Event, Item

PURPOSE = "compaction"
VERSION = 1
TRIGGER = "compaction_trigger"
# How the summary is handed to the model that continues (ours; then the reference server's).
HANDOFF = (
    "Earlier turns of this conversation were compacted. This summary of them was written by a "
    "model that worked on the task so far; continue from it without redoing finished work:\n"
)
PEER_HANDOFF = (
    "Another language model started to solve this problem and produced a summary of its thinking "
    "process. You also have access to the state of the tools that were used by that language model. "
    "Use this to build on the work that has already been done and avoid duplicating work. Here is the "
    "summary produced by the other language model, use the information in this summary to assist with "
    "your own analysis:\n"
)


def make_item(summary: str, response_id: str, sealer: Sealer | None, faithful: bool) -> Item:
    """The compaction item of `summary`: sealed, or (OGX mode, no key) the reference's plain text."""
    if faithful and sealer is not None:
        content = sealer.seal(PURPOSE, {"v": VERSION, "summary": summary})
    else:
        content = PEER_HANDOFF + summary
    return {"type": "compaction", "id": ids.item_id("cmp", response_id), "encrypted_content": content}


def handoff_text(item: Item, where: str, sealer: Sealer | None, faithful: bool) -> str | None:
    """The assistant message text a compaction item expands to (None: checking items only)."""
    content = require_str(item, "encrypted_content", where)
    param = f"{where}.encrypted_content"
    if content.startswith(SEALED_PREFIX):
        if sealer is None:
            return None
        data = sealer.open(PURPOSE, content, param=param)
        summary = data.get("summary")
        if data.get("v") != VERSION or not isinstance(summary, str):
            raise InvalidRequest(f"Invalid value for '{param}': an unknown compaction version.", param=param)
        return (HANDOFF if faithful else PEER_HANDOFF) + summary
    if faithful:
        raise InvalidRequest(
            f"Invalid value for '{param}': not a compaction made by this server "
            "(compact with POST /v1/responses/compact).",
            param=param,
        )
    return content  # the reference server's plain text


def convert_compaction(item: Item, where: str, builder: ChatBuilder) -> None:
    text = handoff_text(item, where, builder.sealer, builder.faithful)
    if text is not None:
        builder.add({"role": "assistant", "content": text})


def convert_trigger(item: Item, where: str, builder: ChatBuilder) -> None:
    """No message: the trigger makes the response a compaction (`engine/compaction.py`)."""


def compaction_events(output_index: int, item: Item) -> list[Event]:
    """A compaction item's stream events: added (no content yet), compacting, done."""
    opened: dict[str, Any] = {"type": "compaction", "id": item["id"], "encrypted_content": ""}
    return [
        {"type": "response.output_item.added", "output_index": output_index, "item": opened},
        {"type": "response.compaction.compacting", "output_index": output_index, "item_id": item["id"]},
        {"type": "response.output_item.done", "output_index": output_index, "item": item},
    ]
