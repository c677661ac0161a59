"""Reasoning items: the model's thinking, from Chat backends that stream it, and back.

Upstream, vLLM / DeepSeek / Qwen-style servers stream `reasoning_content` in the delta, newer
ones `reasoning`. Here that becomes a `reasoning` output item whose content is one
`reasoning_text` part (`response.reasoning_text.delta/done`); when the request asks for
`reasoning.summary`, a `summary_text` part with the same text follows the same deltas (Chat
backends give no separate summary). On the next turn the reasoning goes back upstream on the
assistant message, under the key it came with.

With `include: ["reasoning.encrypted_content"]` the item carries `encrypted_content`: the text and
its key sealed by the server (`responsa.crypto`), so a stateless client (`store: false`) can send
it back and the server can read it, while the client cannot read or forge it.
"""

from __future__ import annotations

from typing import Any

from responsa.crypto import Sealer
from responsa.engine.items.base import ChatBuilder
from responsa.errors import InvalidRequest
from responsa.types import Event, Item

PURPOSE = "reasoning"
DEFAULT_KEY = "reasoning_content"
ENCRYPTED_INCLUDE = "reasoning.encrypted_content"


def convert_reasoning(item: Item, where: str, builder: ChatBuilder) -> None:
    builder.close()
    sealed = item.get("encrypted_content")
    if sealed is not None and builder.sealer is None:  # checking items only (Conversations API)
        builder.reasoning = None
        return
    if sealed is not None:
        assert builder.sealer is not None
        data = builder.sealer.open(PURPOSE, sealed, param=f"{where}.encrypted_content")
        key, text = str(data.get("key") or DEFAULT_KEY), str(data.get("text") or "")
    else:
        content = item.get("content")
        if content is not None and not isinstance(content, list):
            raise InvalidRequest(
                f"Invalid type for '{where}.content': expected an array.", param=f"{where}.content"
            )
        parts = [str(c.get("text", "")) for c in content or () if isinstance(c, dict)]
        key, text = DEFAULT_KEY, " ".join(parts)
    builder.reasoning = (key, text) if text else None


class ReasoningItem:
    """The reasoning of one model call: item added -> part(s) added -> deltas -> done."""

    def __init__(
        self, output_index: int, item_id: str, key: str, summary: bool, sealer: Sealer | None
    ) -> None:
        self.id = item_id
        self.output_index = output_index
        self.key = key
        self.summary = summary
        self.sealer = sealer
        self._chunks: list[str] = []
        self._sealed: tuple[str, str] | None = None  # (text, token): sealed once, shown alike everywhere

    @property
    def text(self) -> str:
        return "".join(self._chunks)

    def _base(self) -> dict[str, Any]:
        return {"item_id": self.id, "output_index": self.output_index}

    def item(self, status: str) -> Item:
        text = self.text
        item: Item = {
            "id": self.id,
            "type": "reasoning",
            "status": status,
            "summary": [{"type": "summary_text", "text": text}] if self.summary else [],
            "content": [{"type": "reasoning_text", "text": text}],
        }
        if self.sealer is not None:
            if self._sealed is None or self._sealed[0] != text:
                self._sealed = (text, self.sealer.seal(PURPOSE, {"key": self.key, "text": text}))
            item["encrypted_content"] = self._sealed[1]
        return item

    def open(self) -> list[Event]:
        base = self._base()
        events: list[Event] = [
            {
                "type": "response.output_item.added",
                "output_index": self.output_index,
                "item": {
                    "id": self.id,
                    "type": "reasoning",
                    "status": "in_progress",
                    "summary": [],
                    "content": [],
                },
            },
            {
                "type": "response.content_part.added",
                **base,
                "content_index": 0,
                "part": {"type": "reasoning_text", "text": ""},
            },
        ]
        if self.summary:
            events.append(
                {
                    "type": "response.reasoning_summary_part.added",
                    **base,
                    "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""},
                }
            )
        return events

    def delta(self, text: str) -> list[Event]:
        self._chunks.append(text)
        base = self._base()
        events: list[Event] = [
            {"type": "response.reasoning_text.delta", **base, "content_index": 0, "delta": text}
        ]
        if self.summary:
            events.append(
                {"type": "response.reasoning_summary_text.delta", **base, "summary_index": 0, "delta": text}
            )
        return events

    def close(self, status: str = "completed") -> list[Event]:
        base, text = self._base(), self.text
        events: list[Event] = [
            {"type": "response.reasoning_text.done", **base, "content_index": 0, "text": text},
            {
                "type": "response.content_part.done",
                **base,
                "content_index": 0,
                "part": {"type": "reasoning_text", "text": text},
            },
        ]
        if self.summary:
            part = {"type": "summary_text", "text": text}
            events.append(
                {"type": "response.reasoning_summary_text.done", **base, "summary_index": 0, "text": text}
            )
            events.append(
                {"type": "response.reasoning_summary_part.done", **base, "summary_index": 0, "part": part}
            )
        events.append(
            {
                "type": "response.output_item.done",
                "output_index": self.output_index,
                "item": self.item(status),
            }
        )
        return events
