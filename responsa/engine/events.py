"""Stream events: pure builders, one small state machine per output item, and the stamper.

Map:
    Stamper            the only place that assigns `sequence_number` (0, 1, 2, ...)
    lifecycle(...)     response.created / in_progress / completed / incomplete / failed
    MessageItem        an assistant message: item added -> part added -> deltas -> text done ->
                       part done -> item done (a refusal is a second part of the same item)
    FunctionCallItem   a function call: item added -> argument deltas -> arguments done -> item done
    mcp_list_tools_events, mcp_call_events, web_search_events, approval_request_events
                       server-run tool items, built whole once the tool has run

Builders return plain dicts shaped like the SDK's `openai.types.responses` event models and
leave `sequence_number` unset.
"""

from __future__ import annotations

from typing import Any

from responsa import ids
from responsa.types import Event, Item


class Stamper:
    """Numbers events in the order they leave the engine."""

    __slots__ = ("next",)

    def __init__(self, start: int = 0) -> None:
        self.next = start

    def __call__(self, event: Event) -> Event:
        event["sequence_number"] = self.next
        self.next += 1
        return event


def lifecycle(kind: str, response: dict[str, Any]) -> Event:
    """`response.<kind>` carrying a snapshot of the response object."""
    return {"type": f"response.{kind}", "response": {**response, "output": list(response["output"])}}


class MessageItem:
    """The assistant message of one model call."""

    def __init__(self, output_index: int) -> None:
        self.id = ids.message_id()
        self.output_index = output_index
        self.parts: list[dict[str, Any]] = []
        self._open_kind: str | None = None
        self._chunks: list[str] = []
        self._logprobs: list[dict[str, Any]] = []

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
        part = (
            {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            if kind == "output_text"
            else {"type": "refusal", "refusal": ""}
        )
        events.append({"type": "response.content_part.added", **self._base(), "part": part})

    def text(self, delta: str, logprobs: list[dict[str, Any]] | None = None) -> list[Event]:
        events: list[Event] = []
        self._start_part("output_text", events)
        self._chunks.append(delta)
        if logprobs:
            self._logprobs.extend(logprobs)
        events.append(
            {
                "type": "response.output_text.delta",
                **self._base(),
                "delta": delta,
                "logprobs": [_delta_logprob(lp) for lp in logprobs] if logprobs else [],
            }
        )
        return events

    def refusal(self, delta: str) -> list[Event]:
        events: list[Event] = []
        self._start_part("refusal", events)
        self._chunks.append(delta)
        events.append({"type": "response.refusal.delta", **self._base(), "delta": delta})
        return events

    def _finish_part(self) -> list[Event]:
        text = "".join(self._chunks)
        base = self._base()
        if self._open_kind == "output_text":
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": self._logprobs}
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
        return [done, {"type": "response.content_part.done", **base, "part": part}]

    @property
    def text_so_far(self) -> str:
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


class FunctionCallItem:
    """One function call the model made, streamed as its arguments arrive."""

    def __init__(self, output_index: int, call_id: str, name: str) -> None:
        self.id = ids.function_call_id()
        self.output_index = output_index
        self.call_id = call_id
        self.name = name
        self._arguments: list[str] = []

    @property
    def arguments(self) -> str:
        return "".join(self._arguments)

    def item(self, status: str) -> Item:
        return {
            "id": self.id,
            "type": "function_call",
            "status": status,
            "call_id": self.call_id,
            "name": self.name,
            "arguments": self.arguments,
        }

    def open(self) -> Event:
        return {
            "type": "response.output_item.added",
            "output_index": self.output_index,
            "item": {**self.item("in_progress"), "arguments": ""},
        }

    def arguments_delta(self, delta: str) -> Event:
        self._arguments.append(delta)
        return {
            "type": "response.function_call_arguments.delta",
            "item_id": self.id,
            "output_index": self.output_index,
            "delta": delta,
        }

    def close(self) -> list[Event]:
        return [
            {
                "type": "response.function_call_arguments.done",
                "item_id": self.id,
                "name": self.name,
                "output_index": self.output_index,
                "arguments": self.arguments,
            },
            {
                "type": "response.output_item.done",
                "output_index": self.output_index,
                "item": self.item("completed"),
            },
        ]


def _added_done(output_index: int, opened: Item, final: Item, middle: list[Event]) -> list[Event]:
    return [
        {"type": "response.output_item.added", "output_index": output_index, "item": opened},
        *middle,
        {"type": "response.output_item.done", "output_index": output_index, "item": final},
    ]


def mcp_list_tools_events(output_index: int, item: Item, failed: bool) -> list[Event]:
    base = {"item_id": item["id"], "output_index": output_index}
    opened = {**item, "tools": []}
    return [
        {"type": "response.mcp_list_tools.in_progress", **base},
        *_added_done(
            output_index,
            opened,
            item,
            [
                {
                    "type": "response.mcp_list_tools.failed"
                    if failed
                    else "response.mcp_list_tools.completed",
                    **base,
                },
            ],
        ),
    ]


def mcp_call_events(output_index: int, item: Item) -> list[Event]:
    base = {"item_id": item["id"], "output_index": output_index}
    opened = {**item, "arguments": "", "output": None, "error": None, "status": "in_progress"}
    failed = item.get("error") is not None
    return _added_done(
        output_index,
        opened,
        item,
        [
            {"type": "response.mcp_call.in_progress", **base},
            {"type": "response.mcp_call_arguments.delta", **base, "delta": item["arguments"]},
            {"type": "response.mcp_call_arguments.done", **base, "arguments": item["arguments"]},
            {"type": "response.mcp_call.failed" if failed else "response.mcp_call.completed", **base},
        ],
    )


def web_search_events(output_index: int, item: Item) -> list[Event]:
    base = {"item_id": item["id"], "output_index": output_index}
    opened = {"id": item["id"], "type": "web_search_call", "status": "in_progress", "action": item["action"]}
    return _added_done(
        output_index,
        opened,
        item,
        [
            {"type": "response.web_search_call.in_progress", **base},
            {"type": "response.web_search_call.searching", **base},
            {"type": "response.web_search_call.completed", **base},
        ],
    )


def approval_request_events(output_index: int, item: Item) -> list[Event]:
    return _added_done(output_index, item, item, [])
