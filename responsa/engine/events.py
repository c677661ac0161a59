"""Stream events: pure builders, one small state machine per output item, and the stamper.

Map:
    Stamper            the only place that assigns `sequence_number` (0, 1, 2, ...) and the
                       `response_id` of item and content-part events
    lifecycle(...)     response.created / in_progress / completed / incomplete / failed
    mcp_list_tools_events, mcp_call_events, web_search_events, file_search_events,
    approval_request_events
                       server-run tool items, built whole once the tool has run

The items the model streams have their state machines beside their input translation, one
module per family: `items/messages.py` (MessageItem), `items/calls.py` (FunctionCallItem,
CustomToolCallItem, ToolSearchCallItem), `items/reasoning.py` (ReasoningItem).

Builders return plain dicts shaped like the SDK's `openai.types.responses` event models and
leave `sequence_number` unset.
"""

from __future__ import annotations

from typing import Any

from responsa.types import Event, Item

# Events the reference server's client (`ogx-client`) parses only when they carry the
# `response_id` (an extra field to OpenAI's shape: the official SDKs ignore it).
WITH_RESPONSE_ID = frozenset(
    {
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
    }
)


class Stamper:
    """Numbers events in the order they leave the engine, and puts the response id on the
    events of `WITH_RESPONSE_ID`."""

    __slots__ = ("next", "response_id")

    def __init__(self, start: int = 0, response_id: str | None = None) -> None:
        self.next = start
        self.response_id = response_id

    def __call__(self, event: Event) -> Event:
        event["sequence_number"] = self.next
        self.next += 1
        if self.response_id is not None and event["type"] in WITH_RESPONSE_ID:
            event["response_id"] = self.response_id
        return event


class ShiftedStamper(Stamper):
    """For a background attempt that follows an abandoned one in the same stored stream: its
    `output_index`es start after the ones the abandoned attempt used (see `restarted`)."""

    __slots__ = ("offset",)

    def __init__(self, start: int, offset: int, response_id: str | None = None) -> None:
        super().__init__(start, response_id)
        self.offset = offset

    def __call__(self, event: Event) -> Event:
        if "output_index" in event:
            event["output_index"] += self.offset
        return super().__call__(event)


RESTARTED = "responsa:response.restarted"


def restarted(response_id: str, attempt: int, offset: int) -> Event:
    """An extension event (prefixed, as OpenResponses asks): the worker running this background
    response stopped after streaming some output and another worker runs it again from the
    start. A reader drops the output it folded so far; from here on, an event's `output_index`
    minus `output_index_offset` is the item's position in the final response. The indices never
    repeat, so the SDK's stream helpers still build the final response."""
    return {
        "type": RESTARTED,
        "response_id": response_id,
        "attempt": attempt,
        "output_index_offset": offset,
    }


def lifecycle(kind: str, response: dict[str, Any]) -> Event:
    """`response.<kind>` carrying a snapshot of the response object."""
    return {"type": f"response.{kind}", "response": {**response, "output": list(response["output"])}}


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


def _search_call_events(output_index: int, opened: Item, item: Item) -> list[Event]:
    """A server-run search's item: added, `in_progress`, `searching`, `completed` (also when the
    search failed: the item's status says so), done."""
    base = {"item_id": item["id"], "output_index": output_index}
    kind = f"response.{item['type']}"
    phases = ("in_progress", "searching", "completed")
    return _added_done(output_index, opened, item, [{"type": f"{kind}.{phase}", **base} for phase in phases])


def web_search_events(output_index: int, item: Item) -> list[Event]:
    opened = {"id": item["id"], "type": "web_search_call", "status": "in_progress", "action": item["action"]}
    return _search_call_events(output_index, opened, item)


def file_search_events(output_index: int, item: Item) -> list[Event]:
    return _search_call_events(output_index, {**item, "status": "in_progress", "results": None}, item)


def approval_request_events(output_index: int, item: Item) -> list[Event]:
    return _added_done(output_index, item, item, [])
