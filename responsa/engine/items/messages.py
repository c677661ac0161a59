"""Message items: input messages into chat messages, and the model's reply as a streamed
`message` output item.

Input: `content` keeps its shape (`items/content.py`); an assistant message's `refusal` parts
become the Chat API's refusal parts (never a 400); `phase` (commentary / final_answer) is kept in
the stored item and not sent upstream, where Chat Completions has no such field.
"""

from __future__ import annotations

from typing import Any

from responsa.engine.items.base import MESSAGE_ROLES, ChatBuilder
from responsa.engine.items.citations import CitedText
from responsa.engine.items.content import chat_content
from responsa.errors import InvalidRequest
from responsa.types import ChatMessage, Event, Item


def role_of(item: Item, where: str) -> str:
    role = item.get("role")
    if role not in MESSAGE_ROLES:
        raise InvalidRequest(
            f"Invalid value for '{where}.role': expected one of {', '.join(MESSAGE_ROLES)}, got {role!r}.",
            param=f"{where}.role",
        )
    return str(role)


def convert_message(item: Item, where: str, builder: ChatBuilder) -> None:
    role = role_of(item, where)
    content = chat_content(item.get("content"), f"{where}.content", role)
    if role == "user" and builder.has_previous and content == builder.repeated_user:
        builder.reasoning = None
        return
    message: ChatMessage = {"role": role, "content": content}
    if role == "assistant":
        builder.assistant(message)
    else:
        builder.reasoning = None
        builder.add(message)


class MessageItem:
    """The assistant message of one model call. With `citations` (file id -> filename, the
    files a `file_search` of this response returned) its text is streamed through `CitedText`:
    citation markers become annotations."""

    def __init__(self, output_index: int, item_id: str, citations: dict[str, str] | None = None) -> None:
        self.id = item_id
        self.output_index = output_index
        self.parts: list[dict[str, Any]] = []
        self._open_kind: str | None = None
        self._chunks: list[str] = []
        self._logprobs: list[dict[str, Any]] = []
        self._citations = citations or None
        self._cited: CitedText | None = None
        self._annotations: list[dict[str, Any]] = []
        self._said: list[str] = []  # the model's text as written (markers kept), when citing

    def open(self) -> Event:
        return {
            "type": "response.output_item.added",
            "output_index": self.output_index,
            "item": {
                "id": self.id,
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            },
        }

    def _base(self) -> dict[str, Any]:
        return {"item_id": self.id, "output_index": self.output_index, "content_index": len(self.parts)}

    def _start_part(self, kind: str, events: list[Event]) -> None:
        if self._open_kind == kind:
            return
        if self._open_kind is not None:
            events.extend(self._finish_part())
        self._open_kind = kind
        if kind == "output_text" and self._citations is not None:
            self._cited = CitedText(self._citations)
        part = (
            {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            if kind == "output_text"
            else {"type": "refusal", "refusal": ""}
        )
        events.append({"type": "response.content_part.added", **self._base(), "part": part})

    def text(self, delta: str, logprobs: list[dict[str, Any]] | None = None) -> list[Event]:
        events: list[Event] = []
        self._start_part("output_text", events)
        if logprobs:
            self._logprobs.extend(logprobs)
        if self._cited is not None:
            self._said.append(delta)
            self._cite(self._cited.feed(delta), logprobs, events)
            return events
        self._chunks.append(delta)
        events.append(
            {
                "type": "response.output_text.delta",
                **self._base(),
                "delta": delta,
                "logprobs": [_delta_logprob(lp) for lp in logprobs] if logprobs else [],
            }
        )
        return events

    def _delta(self, text: str, logprobs: list[dict[str, Any]] | None) -> Event:
        self._chunks.append(text)
        return {
            "type": "response.output_text.delta",
            **self._base(),
            "delta": text,
            "logprobs": [_delta_logprob(lp) for lp in logprobs] if logprobs else [],
        }

    def _cite(self, pieces: list[Any], logprobs: list[dict[str, Any]] | None, events: list[Event]) -> None:
        for kind, value in pieces:
            if kind == "text":
                events.append(self._delta(value, logprobs))
                logprobs = None  # a delta's logprobs go with the first text shown of it
            else:
                events.append(
                    {
                        "type": "response.output_text.annotation.added",
                        **self._base(),
                        "annotation_index": len(self._annotations),
                        "annotation": value,
                    }
                )
                self._annotations.append(value)

    def refusal(self, delta: str) -> list[Event]:
        events: list[Event] = []
        self._start_part("refusal", events)
        self._chunks.append(delta)
        events.append({"type": "response.refusal.delta", **self._base(), "delta": delta})
        return events

    def _finish_part(self) -> list[Event]:
        events: list[Event] = []
        if self._cited is not None:
            held = self._cited.flush()
            if held:
                events.append(self._delta(held, None))
            self._cited = None
        text = "".join(self._chunks)
        base = self._base()
        if self._open_kind == "output_text":
            annotations, self._annotations = self._annotations, []
            part = {
                "type": "output_text",
                "text": text,
                "annotations": annotations,
                "logprobs": self._logprobs,
            }
            done: Event = {
                "type": "response.output_text.done",
                **base,
                "text": text,
                "logprobs": [_delta_logprob(lp) for lp in self._logprobs],
            }
        else:
            part = {"type": "refusal", "refusal": text}
            done = {"type": "response.refusal.done", **base, "refusal": text}
        self.parts.append(part)
        self._open_kind, self._chunks, self._logprobs = None, [], []
        return [*events, done, {"type": "response.content_part.done", **base, "part": part}]

    @property
    def refusal_so_far(self) -> str:
        done = "".join(p.get("refusal", "") for p in self.parts if p["type"] == "refusal")
        return done + ("".join(self._chunks) if self._open_kind == "refusal" else "")

    @property
    def text_so_far(self) -> str:
        """The model's text as it wrote it (citation markers kept), for the next upstream call."""
        if self._citations is not None:
            return "".join(self._said)
        done = "".join(p.get("text", "") for p in self.parts if p["type"] == "output_text")
        return done + ("".join(self._chunks) if self._open_kind == "output_text" else "")

    def close(self, status: str = "completed") -> list[Event]:
        events = self._finish_part() if self._open_kind is not None else []
        if not self.parts:  # an empty reply still has one (empty) text part
            self._start_part("output_text", events)
            events.extend(self._finish_part())
        events.append(
            {
                "type": "response.output_item.done",
                "output_index": self.output_index,
                "item": self.item(status),
            }
        )
        return events

    def item(self, status: str) -> Item:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": self.parts,
        }


def _delta_logprob(lp: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": lp["token"],
        "logprob": lp["logprob"],
        "top_logprobs": [
            {"token": t["token"], "logprob": t["logprob"]} for t in lp.get("top_logprobs") or ()
        ],
    }
