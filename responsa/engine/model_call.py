"""One upstream model call: its chunks become output items and their events.

Text and client function calls stream live as they arrive. Calls to server-run tools (MCP,
web search) are collected here and run after the reply is complete (`engine/tool_calls.py`).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from responsa import ids
from responsa.engine.events import FunctionCallItem, MessageItem
from responsa.engine.response import UsageTotals
from responsa.engine.tools import CallKind, ToolSet
from responsa.types import ChatChunk, ChatMessage, Event


@dataclass(slots=True)
class ServerCall:
    """A call to a server-run tool, complete once the reply has ended."""

    index: int
    call_id: str
    name: str
    kind: CallKind
    parts: list[str] = field(default_factory=list)

    @property
    def arguments(self) -> str:
        return "".join(self.parts)


class ModelCall:
    def __init__(self, response: dict[str, Any], usage: UsageTotals, tools: ToolSet) -> None:
        self.response = response
        self.usage = usage
        self.tools = tools
        self.message: MessageItem | None = None
        self.calls: dict[int, FunctionCallItem] = {}
        self.server_calls: dict[int, ServerCall] = {}
        self.finish_reason: str | None = None
        self.service_tier: str | None = None

    def _next_index(self) -> int:
        return len(self.response["output"]) + (self.message is not None) + len(self.calls)

    def _message(self, events: list[Event]) -> MessageItem:
        if self.message is None:
            self.message = MessageItem(self._next_index())
            events.append(self.message.open())
        return self.message

    def on_chunk(self, chunk: ChatChunk) -> list[Event]:
        events: list[Event] = []
        usage = chunk.get("usage")
        if usage:
            self.usage.add(usage)
        tier = chunk.get("service_tier")
        if tier:
            self.service_tier = tier
            self.response["service_tier"] = tier
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                logprobs = (choice.get("logprobs") or {}).get("content") or None
                events.extend(self._message(events).text(content, logprobs))
            refusal = delta.get("refusal")
            if refusal:
                events.extend(self._message(events).refusal(refusal))
            for call in delta.get("tool_calls") or ():
                self._tool_call_delta(call, events)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def _tool_call_delta(self, call: dict[str, Any], events: list[Event]) -> None:
        function = call.get("function") or {}
        arguments = function.get("arguments") or ""
        index = call.get("index", 0)
        item = self.calls.get(index)
        server = self.server_calls.get(index)
        if item is None and server is None:
            name = function.get("name") or ""
            call_id = call.get("id") or ids.new_id("call")
            kind = self.tools.classify(name)
            if kind == "function":
                item = FunctionCallItem(self._next_index(), call_id, name)
                self.calls[index] = item
                events.append(item.open())
            else:
                server = ServerCall(index, call_id, name, kind)
                self.server_calls[index] = server
        if arguments:
            if item is not None:
                events.append(item.arguments_delta(arguments))
            elif server is not None:
                server.parts.append(arguments)

    @property
    def status(self) -> str:
        return "incomplete" if self.finish_reason in ("length", "content_filter") else "completed"

    @property
    def has_tool_calls(self) -> bool:
        return bool(self.calls or self.server_calls)

    def finish(self, status: str) -> list[Event]:
        """Close every open item, in output order, and add them to the response."""
        events: list[Event] = []
        if self.message is None and not self.has_tool_calls and status == "completed":
            self._message(events)  # an empty reply is still a (blank) message
        items: list[tuple[int, Any]] = [(c.output_index, c) for c in self.calls.values()]
        if self.message is not None:
            items.append((self.message.output_index, self.message))
        for _, item in sorted(items, key=lambda pair: pair[0]):
            if isinstance(item, MessageItem):
                events.extend(item.close(status))
                self.response["output"].append(item.item(status))
            else:
                events.extend(item.close())
                self.response["output"].append(item.item("completed"))
        return events

    def assistant_message(self, dropped: AbstractSet[int] = frozenset()) -> ChatMessage | None:
        """The reply as the upstream will see it in the next call's history; tool calls in
        `dropped` (waiting for approval, or denied) are left out, and a reply left with no
        calls at all is left out too."""
        text = self.message.text_so_far if self.message is not None else ""
        if not self.has_tool_calls:
            return {"role": "assistant", "content": text}
        calls: list[tuple[int, str, str, str]] = [
            (index, c.call_id, c.name, c.arguments) for index, c in self.calls.items()
        ] + [
            (index, c.call_id, c.name, c.arguments)
            for index, c in self.server_calls.items()
            if index not in dropped
        ]
        if not calls:
            return None
        return {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "index": index,
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments or "{}"},
                }
                for index, call_id, name, arguments in sorted(calls)
            ],
        }
