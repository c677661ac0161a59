"""One upstream model call: its chunks become output items and their events.

Reasoning, text and client-side calls (function, custom, tool search) stream live as they
arrive, each as the item of its family (`engine/items/`). Calls to server-run tools (MCP, web
search, file search) are collected here and run after the reply is complete
(`engine/tool_calls.py`).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from responsa import ids
from responsa.crypto import Sealer
from responsa.engine.items.calls import (
    ClientCall,
    CustomToolCallItem,
    FunctionCallItem,
    ToolSearchCallItem,
    custom_tool_call,
    flat_name,
    function_tool_call,
)
from responsa.engine.items.messages import MessageItem
from responsa.engine.items.reasoning import ReasoningItem
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


@dataclass(frozen=True, slots=True)
class CallOptions:
    """How this response shows the model's reply: the translation mode, whether reasoning is
    summarised and sealed for the client, and whether custom calls are native upstream."""

    faithful: bool = True
    summary: bool = False
    sealer: Sealer | None = None  # set when the client asked for `reasoning.encrypted_content`
    custom_native: bool = False


OpenItem = MessageItem | ClientCall | ReasoningItem


class ModelCall:
    def __init__(
        self,
        response: dict[str, Any],
        usage: UsageTotals,
        tools: ToolSet,
        options: CallOptions | None = None,
        citations: dict[str, str] | None = None,
    ) -> None:
        self.response = response
        self.citations = citations  # files the model may cite (found by file_search in this response)
        self.usage = usage
        self.tools = tools
        self.options = options or CallOptions()
        self.open: list[OpenItem] = []  # items of this call not yet in the response's output
        self.message: MessageItem | None = None
        self.reasoning: ReasoningItem | None = None
        self.reasoning_text: list[tuple[str, str]] = []  # (key, text) of every reasoning item
        self.calls: dict[int, ClientCall] = {}
        self.server_calls: dict[int, ServerCall] = {}
        self.finish_reason: str | None = None
        self.service_tier: str | None = None

    def _id(self, prefix: str) -> str:
        return ids.item_id(prefix, self.response["id"])

    def _next_index(self) -> int:
        return len(self.response["output"]) + len(self.open)

    def _close_reasoning(self, events: list[Event]) -> None:
        """Reasoning ends when the answer or a call starts: its item is done before theirs."""
        item = self.reasoning
        if item is None:
            return
        self.reasoning = None
        events.extend(item.close())
        self.open.remove(item)
        self.response["output"].append(item.item("completed"))
        self.reasoning_text.append((item.key, item.text))

    def _message(self, events: list[Event]) -> MessageItem:
        self._close_reasoning(events)
        if self.message is None:
            self.message = MessageItem(self._next_index(), self._id("msg"), self.citations)
            self.open.append(self.message)
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
            # The hot loop: one dict lookup per kind of delta, no call unless the kind is there.
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            if thought and isinstance(thought, str):
                key = "reasoning_content" if delta.get("reasoning_content") else "reasoning"
                self._reasoning_delta(key, thought, events)
            content = delta.get("content")
            if content:
                message = self.message
                if message is None or self.reasoning is not None:
                    message = self._message(events)
                logprobs = (choice.get("logprobs") or {}).get("content") or None
                events.extend(message.text(content, logprobs))
            refusal = delta.get("refusal")
            if refusal:
                events.extend(self._message(events).refusal(refusal))
            for call in delta.get("tool_calls") or ():
                self._tool_call_delta(call, events)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def _reasoning_delta(self, key: str, text: str, events: list[Event]) -> None:
        if self.reasoning is None:
            self.reasoning = ReasoningItem(
                self._next_index(), self._id("rs"), key, self.options.summary, self.options.sealer
            )
            self.open.append(self.reasoning)
            events.extend(self.reasoning.open())
        events.extend(self.reasoning.delta(text))

    def _open_call(self, index: int, call_id: str, name: str) -> ClientCall | None:
        target = self.tools.classify(name)
        position = self._next_index()
        item: ClientCall
        if target.kind == "function":
            item = FunctionCallItem(position, self._id("fc"), call_id, target.name, target.namespace)
        elif target.kind == "custom":
            item = CustomToolCallItem(
                position, self._id("ctc"), call_id, target.name, target.namespace, self.options.custom_native
            )
        elif target.kind == "tool_search":
            item = ToolSearchCallItem(position, self._id("tsc"), call_id)
        else:
            self.server_calls[index] = ServerCall(index, call_id, name, target.kind)
            return None
        self.calls[index] = item
        self.open.append(item)
        return item

    def _tool_call_delta(self, call: dict[str, Any], events: list[Event]) -> None:
        custom = call.get("custom") if call.get("type") == "custom" else None
        function = call.get("function") or {}
        source = custom if isinstance(custom, dict) else function
        piece = (source.get("input") if custom is not None else function.get("arguments")) or ""
        index = call.get("index", 0)
        item = self.calls.get(index)
        server = self.server_calls.get(index)
        if item is None and server is None:
            self._close_reasoning(events)
            item = self._open_call(index, call.get("id") or ids.new_id("call"), source.get("name") or "")
            if item is not None:
                events.append(item.open())
            server = self.server_calls.get(index)
        if piece:
            if item is not None:
                events.extend(item.delta(piece))
            elif server is not None:
                server.parts.append(piece)

    @property
    def status(self) -> str:
        return "incomplete" if self.finish_reason in ("length", "content_filter") else "completed"

    @property
    def has_tool_calls(self) -> bool:
        return bool(self.calls or self.server_calls)

    def finish(self, status: str) -> list[Event]:
        """Close every open item, in output order, and add them to the response."""
        events: list[Event] = []
        self._close_reasoning(events)
        if self.message is None and not self.has_tool_calls and status == "completed":
            self._message(events)  # an empty reply is still a (blank) message
        for item in sorted(self.open, key=lambda i: i.output_index):
            if isinstance(item, MessageItem):
                events.extend(item.close(status))
                self.response["output"].append(item.item(status))
            else:
                events.extend(item.close())
                self.response["output"].append(item.item("completed"))
        self.open.clear()
        return events

    def _chat_call(self, index: int, call: ClientCall | ServerCall) -> dict[str, Any]:
        """One call of the reply as the next call's history carries it, by its upstream name."""
        name = call.name if isinstance(call, ServerCall) else flat_name(call.name, call.namespace)
        if isinstance(call, CustomToolCallItem) and call.native:
            return custom_tool_call(call.call_id, name, call.input)
        chat = function_tool_call(call.call_id, name, call.arguments or "{}", self.options.faithful)
        return {**chat, "index": index} if not self.options.faithful else chat

    def assistant_message(self, dropped: AbstractSet[int] = frozenset()) -> ChatMessage | None:
        """The reply as the upstream will see it in the next call's history; tool calls in
        `dropped` (waiting for approval, or denied) are left out, and a reply left with no
        calls at all is left out too. Faithful mode keeps the text written before the calls,
        the refusal and the reasoning; OGX mode sends "" as the content of a reply with calls."""
        text = self.message.text_so_far if self.message is not None else ""
        message: ChatMessage
        if not self.has_tool_calls:
            message = {"role": "assistant", "content": text}
        else:
            calls: dict[int, ClientCall | ServerCall] = {
                **self.calls,
                **{index: c for index, c in self.server_calls.items() if index not in dropped},
            }
            if not calls:
                return None
            message = {
                "role": "assistant",
                "content": text if self.options.faithful else "",
                "tool_calls": [self._chat_call(index, calls[index]) for index in sorted(calls)],
            }
        if self.options.faithful:
            refusal = self.message.refusal_so_far if self.message is not None else ""
            if refusal:
                message["refusal"] = refusal
            if self.reasoning_text:
                key = self.reasoning_text[0][0]
                message[key] = "".join(text for _, text in self.reasoning_text)
        return message
