"""What every item family shares: the state of one input-to-messages conversion.

A family's converter is `convert(item, where, builder)`: it reads one input item (`where` is its
parameter path, `input[3]`) and adds upstream chat messages through the builder, which knows the
translation mode and how calls and their outputs are grouped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from responsa.crypto import Sealer
from responsa.errors import InvalidRequest
from responsa.types import ChatMessage, ChatMessages, Item

MESSAGE_ROLES = ("user", "system", "developer", "assistant")
# Output items that answer a call by `call_id`; placed after the assistant message with the call.
OUTPUT_KINDS = frozenset({"function_call_output", "custom_tool_call_output", "tool_search_output"})


def item_kind(item: Item, where: str) -> str:
    kind = item.get("type")
    if kind is None and "role" in item:
        return "message"
    if not isinstance(kind, str):
        raise InvalidRequest(f"Missing required parameter: '{where}.type'.", param=f"{where}.type")
    return kind


MAX_ID_LENGTH = 120  # the stores' item id columns


def check_item_id(item: Item, where: str) -> None:
    item_id = item.get("id")
    if item_id is not None and not (isinstance(item_id, str) and 0 < len(item_id) <= MAX_ID_LENGTH):
        raise InvalidRequest(
            f"Invalid value for '{where}.id': an item id is a string of 1 to {MAX_ID_LENGTH} characters.",
            param=f"{where}.id",
        )


def require_str(item: Item, key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"Invalid value for '{where}.{key}': expected a string.", param=f"{where}.{key}")
    return value


@dataclass(slots=True)
class ChatBuilder:
    """Builds the upstream messages of one input list, in order.

    Faithful mode (the default): consecutive calls join the assistant message before them (text
    and parallel calls stay one message, as the model produced them), and their outputs follow
    that message. OGX mode: one assistant message per call, its output right after it.
    """

    faithful: bool = True
    sealer: Sealer | None = None
    custom_native: bool = False
    messages: ChatMessages = field(default_factory=list)
    outputs: dict[str, tuple[int, Item]] = field(default_factory=dict)
    reasoning: tuple[str, str] | None = None  # (upstream key, text) for the next assistant message
    open_assistant: ChatMessage | None = None
    open_calls: list[str] = field(default_factory=list)
    output_converter: Callable[[str, Item, str], ChatMessages] | None = None
    # With a previous turn: a new user message equal to its last user message is dropped (OGX).
    repeated_user: Any = None
    has_previous: bool = False

    def take_reasoning(self, message: ChatMessage) -> ChatMessage:
        if self.reasoning is not None:
            key, text = self.reasoning
            message[key] = text
            self.reasoning = None
        return message

    def close(self) -> None:
        """The open assistant message takes no more calls: place its calls' outputs."""
        if self.open_assistant is not None:
            calls, self.open_calls, self.open_assistant = self.open_calls, [], None
            for call_id in calls:
                self.place_output(call_id)

    def add(self, message: ChatMessage) -> None:
        self.close()
        self.messages.append(message)

    def assistant(self, message: ChatMessage) -> None:
        """An assistant message; in faithful mode, calls that follow join it."""
        self.close()
        self.messages.append(self.take_reasoning(message))
        if self.faithful:
            self.open_assistant = message

    def call(self, tool_call: dict[str, Any], call_id: str) -> None:
        """A tool call the model made, as one entry of an assistant message's `tool_calls`."""
        if self.faithful:
            if self.open_assistant is None:
                self.open_assistant = self.take_reasoning({"role": "assistant"})
                self.messages.append(self.open_assistant)
            self.open_assistant.setdefault("tool_calls", []).append(tool_call)
            self.open_calls.append(call_id)
            return
        self.close()
        self.messages.append(self.take_reasoning({"role": "assistant", "tool_calls": [tool_call]}))
        self.place_output(call_id)

    def place_output(self, call_id: str) -> None:
        entry = self.outputs.pop(call_id, None)
        if entry is not None and self.output_converter is not None:
            index, item = entry
            self.messages.extend(self.output_converter(call_id, item, f"input[{index}]"))
