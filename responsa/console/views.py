"""What the console's templates show, made from stored objects: table rows, items with the
outputs of their calls beside them, the upstream calls of a response, and a few filters.

    rows = [ResponseRow.of(stored) for stored in page.rows]
    entries = paired(stored.input_items)          # a call and its output become one entry

Nothing here reads the store; `pages.py` does, through the same `Store` the API uses.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

from responsa.store import preview
from responsa.store.base import StoredResponse

# A call's type -> (the call's field that names it, its output's type, the output's field naming it)
OUTPUTS = {
    "function_call": ("call_id", "function_call_output", "call_id"),
    "custom_tool_call": ("call_id", "custom_tool_call_output", "call_id"),
    "tool_search_call": ("call_id", "tool_search_output", "call_id"),
    "mcp_approval_request": ("id", "mcp_approval_response", "approval_request_id"),
}
RECORDING_WORDS = {"hit": "replayed", "recorded": "recorded", "miss": "missed"}


def when(timestamp: float | int | None) -> str:
    """A Unix time as `2026-12-01 21:08:38` (UTC), or an empty string."""
    if not timestamp:
        return ""
    moment = datetime.datetime.fromtimestamp(float(timestamp), datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def pretty(value: Any) -> str:
    """JSON text indented for reading; a string that holds JSON is shown parsed."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    text: str = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text


def milliseconds(value: object) -> str:
    """`850 ms` or `2.40 s`; nothing for a value not measured (None, or missing)."""
    if not isinstance(value, int | float):
        return ""
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


@dataclass(slots=True)
class ResponseRow:
    id: str
    created_at: int
    model: str
    status: str
    input_text: str
    output_text: str
    input_tokens: int | None
    output_tokens: int | None
    duration_ms: float | None
    conversation_id: str | None
    background: bool

    @classmethod
    def of(cls, stored: StoredResponse) -> ResponseRow:
        response = stored.response
        usage = response.get("usage") if isinstance(response.get("usage"), dict) else {}
        return cls(
            id=stored.id,
            created_at=stored.created_at,
            model=stored.model,
            status=stored.status,
            input_text=preview.input_text(stored.input_items),
            output_text=preview.output_text(response.get("output") or ()),
            input_tokens=usage.get("input_tokens") if usage else None,
            output_tokens=usage.get("output_tokens") if usage else None,
            duration_ms=duration_ms(stored),
            conversation_id=stored.conversation_id,
            background=bool(response.get("background")),
        )


def duration_ms(stored: StoredResponse) -> float | None:
    """How long the response took: measured (its trace), else from its two timestamps."""
    if stored.trace is not None and isinstance(stored.trace.get("duration_ms"), int | float):
        return float(stored.trace["duration_ms"])
    completed = stored.response.get("completed_at")
    if isinstance(completed, int | float) and completed >= stored.created_at:
        return (completed - stored.created_at) * 1000.0
    return None


@dataclass(slots=True)
class Entry:
    """An item as shown: a call carries its output (None while it has none)."""

    item: dict[str, Any]
    output: dict[str, Any] | None = None

    @property
    def type(self) -> str:
        return str(self.item.get("type") or "message")


def paired(items: list[dict[str, Any]]) -> list[Entry]:
    """The items in order, each call's output moved beside its call (an output whose call is
    not among them stays where it is)."""
    outputs: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        for call_type, (_, output_type, field) in OUTPUTS.items():
            if item.get("type") == output_type and isinstance(item.get(field), str):
                outputs[(call_type, item[field])] = item
    entries: list[Entry] = []
    used: set[int] = set()  # the outputs shown beside their calls
    for item in items:
        kind = str(item.get("type") or "message")
        output = None
        if kind in OUTPUTS:
            key = item.get(OUTPUTS[kind][0])
            output = outputs.get((kind, key)) if isinstance(key, str) else None
            if output is not None:
                used.add(id(output))
        entries.append(Entry(item, output))
    return [entry for entry in entries if id(entry.item) not in used]


@dataclass(slots=True)
class UpstreamCall:
    """One upstream call of a response, from its trace."""

    provider: str
    model: str
    started_ms: float | None
    first_output_ms: float | None
    ms: float | None
    error: str | None
    recording: str  # recorded, replayed, missed, or live (no recording mode)
    file: str | None
    test_id: str | None
    closest: str | None
    differs: list[str]
    diff: str


def upstream_calls(stored: StoredResponse) -> list[UpstreamCall]:
    calls = (stored.trace or {}).get("upstream") or []
    shown = []
    for call in calls:
        if not isinstance(call, dict):
            continue
        note = call.get("recording") if isinstance(call.get("recording"), dict) else {}
        shown.append(
            UpstreamCall(
                provider=str(call.get("provider") or ""),
                model=str(call.get("model") or ""),
                started_ms=call.get("started_ms"),
                first_output_ms=call.get("first_output_ms"),
                ms=call.get("ms"),
                error=call.get("error"),
                recording=RECORDING_WORDS.get(str(note.get("outcome")), "live") if note else "live",
                file=note.get("file") if note else None,
                test_id=note.get("test_id") if note else None,
                closest=note.get("closest") if note else None,
                differs=list(note.get("differs") or []) if note else [],
                diff=str(note.get("diff") or "") if note else "",
            )
        )
    return shown


def content_text(content: Any) -> str:
    """All the text parts of a message's content, joined (the conversation thread's lines)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = [str(p.get("text") or p.get("refusal") or "") for p in content if isinstance(p, dict)]
    return "\n".join(text for text in texts if text)
