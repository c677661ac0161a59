"""Call items: what the model asked a client-side tool to do, and what the client answered.

    function_call      a function tool (`namespace` set for a tool inside a namespace)
    custom_tool_call   a freeform tool (`input` is raw text, e.g. apply_patch's patch)
    tool_search_call   a client-executed tool search (`arguments` is an object)
    mcp_call           an MCP call the server ran (history only: call and output together)

Upstream they are all Chat Completions tool calls. A namespace tool is offered flattened as
`<namespace>__<name>`; a custom tool is either the Chat API's own `custom` type (providers known to
support it) or a function with one string parameter `input`. Their outputs
(`function_call_output`, `custom_tool_call_output`, `tool_search_output`) become `tool` messages.
The output side streams each call as an item: added, deltas, done.
"""

from __future__ import annotations

import json
import re
from typing import Any

from responsa.engine.items.base import ChatBuilder, require_str
from responsa.engine.items.content import tool_output_messages
from responsa.errors import InvalidRequest
from responsa.types import ChatMessages, Event, Item

NAMESPACE_SEPARATOR = "__"
TOOL_SEARCH = "tool_search"


def flat_name(name: str, namespace: str | None) -> str:
    """The upstream function name of a tool, flattened out of its namespace."""
    return f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name


def function_tool_call(call_id: str, name: str, arguments: str, faithful: bool) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }
    return call if faithful else {"index": 0, **call}


def custom_tool_call(call_id: str, name: str, text: str) -> dict[str, Any]:
    """A custom call in the Chat API's own form (providers that take `custom` tools)."""
    return {"id": call_id, "type": "custom", "custom": {"name": name, "input": text}}


def custom_input_arguments(text: str) -> str:
    """A custom call's input as the arguments of the function that stands for the tool."""
    return json.dumps({"input": text})


def _namespace(item: Item, where: str) -> str | None:
    namespace = item.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise InvalidRequest(
            f"Invalid type for '{where}.namespace': expected a string.", param=f"{where}.namespace"
        )
    return namespace or None


def convert_function_call(item: Item, where: str, builder: ChatBuilder) -> None:
    call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments")
    if not (isinstance(call_id, str) and isinstance(name, str) and isinstance(arguments, str)):
        raise InvalidRequest(
            f"Invalid value for '{where}': a function_call needs string 'call_id', 'name' and 'arguments'.",
            param=where,
        )
    upstream = flat_name(name, _namespace(item, where))
    builder.call(function_tool_call(call_id, upstream, arguments, builder.faithful), call_id)


def convert_custom_call(item: Item, where: str, builder: ChatBuilder) -> None:
    call_id = require_str(item, "call_id", where)
    name = flat_name(require_str(item, "name", where), _namespace(item, where))
    text = require_str(item, "input", where)
    if builder.custom_native:
        call = custom_tool_call(call_id, name, text)
    else:
        call = function_tool_call(call_id, name, custom_input_arguments(text), builder.faithful)
    builder.call(call, call_id)


def convert_tool_search_call(item: Item, where: str, builder: ChatBuilder) -> None:
    call_id = item.get("call_id") or item.get("id")
    if not isinstance(call_id, str):
        raise InvalidRequest(f"Missing required parameter: '{where}.call_id'.", param=f"{where}.call_id")
    arguments = item.get("arguments")
    text = arguments if isinstance(arguments, str) else json.dumps(arguments if arguments is not None else {})
    builder.call(function_tool_call(call_id, TOOL_SEARCH, text, builder.faithful), call_id)


def convert_mcp_call(item: Item, where: str, builder: ChatBuilder) -> None:
    call_id = str(item.get("id"))
    call = function_tool_call(call_id, str(item.get("name")), str(item.get("arguments")), faithful=False)
    builder.close()
    builder.messages.append(builder.take_reasoning({"role": "assistant", "tool_calls": [call]}))
    builder.messages.append({"role": "tool", "tool_call_id": call_id, "content": item.get("output") or ""})


def _loaded_tools(tools: Any) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "namespace":
            for inner in tool.get("tools") or ():
                if isinstance(inner, dict) and inner.get("name"):
                    shown.append(
                        {
                            "name": flat_name(str(inner["name"]), str(tool.get("name"))),
                            "description": inner.get("description"),
                        }
                    )
        elif tool.get("name"):
            shown.append({"name": tool["name"], "description": tool.get("description")})
    return shown


def output_messages(call_id: str, item: Item, where: str) -> ChatMessages:
    """The tool message(s) answering a call."""
    if item.get("type") == "tool_search_output":
        content = json.dumps({"loaded_tools": _loaded_tools(item.get("tools"))})
        return [{"role": "tool", "tool_call_id": call_id, "content": content}]
    return tool_output_messages(call_id, item.get("output"), where)


def output_call_id(item: Item, where: str) -> str:
    call_id = item.get("call_id")
    if not isinstance(call_id, str):
        raise InvalidRequest(f"Missing required parameter: '{where}.call_id'.", param=f"{where}.call_id")
    return call_id


class FunctionCallItem:
    """One function call the model made, streamed as its arguments arrive."""

    def __init__(
        self, output_index: int, item_id: str, call_id: str, name: str, namespace: str | None = None
    ) -> None:
        self.id = item_id
        self.output_index = output_index
        self.call_id = call_id
        self.name = name
        self.namespace = namespace
        self._arguments: list[str] = []

    @property
    def arguments(self) -> str:
        return "".join(self._arguments)

    def item(self, status: str) -> Item:
        item = {
            "id": self.id,
            "type": "function_call",
            "status": status,
            "call_id": self.call_id,
            "name": self.name,
            "arguments": self.arguments,
        }
        if self.namespace:
            item["namespace"] = self.namespace
        return item

    def open(self) -> Event:
        return {
            "type": "response.output_item.added",
            "output_index": self.output_index,
            "item": {**self.item("in_progress"), "arguments": ""},
        }

    def delta(self, piece: str) -> list[Event]:
        self._arguments.append(piece)
        return [
            {
                "type": "response.function_call_arguments.delta",
                "item_id": self.id,
                "output_index": self.output_index,
                "delta": piece,
            }
        ]

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


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_INPUT_START = re.compile(r'\s*\{\s*"input"\s*:\s*"')


class InputField:
    """Decodes the string value of `{"input": "..."}` while its JSON arrives in pieces, so a
    custom call's raw input streams as it is written. Anything else is read whole at the end."""

    def __init__(self) -> None:
        self.raw = ""
        self._pos: int | None = None
        self._closed = False
        self._failed = False

    def feed(self, piece: str) -> str:
        self.raw += piece
        if self._failed or self._closed:
            return ""
        if self._pos is None:
            match = _INPUT_START.match(self.raw)
            if match is None:
                self._failed = not _could_start(self.raw)
                return ""
            self._pos = match.end()
        out: list[str] = []
        raw, i = self.raw, self._pos
        try:
            while i < len(raw):
                ch = raw[i]
                if ch == '"':
                    self._closed = True
                    break
                if ch != "\\":
                    out.append(ch)
                    i += 1
                    continue
                if i + 1 >= len(raw):
                    break
                if raw[i + 1] != "u":
                    out.append(_ESCAPES.get(raw[i + 1], raw[i + 1]))
                    i += 2
                    continue
                if i + 6 > len(raw):
                    break
                code = int(raw[i + 2 : i + 6], 16)
                if 0xD800 <= code < 0xDC00:  # a surrogate pair: wait for its second half
                    if i + 12 > len(raw):
                        break
                    low = int(raw[i + 8 : i + 12], 16)
                    out.append(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                    i += 12
                    continue
                out.append(chr(code))
                i += 6
        except ValueError:
            self._failed = True
        self._pos = i
        return "".join(out)

    def value(self) -> str:
        """The whole input: the `input` string, or the raw text if the model sent something else."""
        try:
            parsed = json.loads(self.raw)
        except json.JSONDecodeError:
            return self.raw
        if isinstance(parsed, dict) and isinstance(parsed.get("input"), str):
            return str(parsed["input"])
        return self.raw


def _could_start(raw: str) -> bool:
    """Whether `raw` may still grow into `{"input": "`."""
    stripped = "".join(raw.split())
    return '{"input":"'.startswith(stripped)


class CustomToolCallItem:
    """A call to a custom tool, its raw input streamed as `custom_tool_call_input` deltas. From a
    native upstream the deltas are raw text; from a function stand-in they are its JSON argument,
    decoded as it arrives."""

    def __init__(
        self, output_index: int, item_id: str, call_id: str, name: str, namespace: str | None, native: bool
    ) -> None:
        self.id = item_id
        self.output_index = output_index
        self.call_id = call_id
        self.name = name
        self.namespace = namespace
        self.native = native
        self._field = InputField()
        self._streamed: list[str] = []

    @property
    def arguments(self) -> str:
        """What the upstream sent, as the assistant message of the next call carries it."""
        return self._field.raw

    @property
    def input(self) -> str:
        return self._field.raw if self.native else self._field.value()

    def item(self, status: str, text: str | None = None) -> Item:
        item = {
            "id": self.id,
            "type": "custom_tool_call",
            "status": status,
            "call_id": self.call_id,
            "name": self.name,
            "input": self.input if text is None else text,
        }
        if self.namespace:
            item["namespace"] = self.namespace
        return item

    def open(self) -> Event:
        return {
            "type": "response.output_item.added",
            "output_index": self.output_index,
            "item": self.item("in_progress", ""),
        }

    def _delta(self, text: str) -> Event:
        self._streamed.append(text)
        return {
            "type": "response.custom_tool_call_input.delta",
            "item_id": self.id,
            "output_index": self.output_index,
            "delta": text,
        }

    def delta(self, piece: str) -> list[Event]:
        text = piece if self.native else self._field.feed(piece)
        if self.native:
            self._field.raw += piece
        return [self._delta(text)] if text else []

    def close(self) -> list[Event]:
        final = self.input
        streamed = "".join(self._streamed)
        events = (
            [self._delta(final[len(streamed) :])]
            if final.startswith(streamed) and len(final) > len(streamed)
            else []
        )
        base = {"item_id": self.id, "output_index": self.output_index}
        return [
            *events,
            {"type": "response.custom_tool_call_input.done", **base, "input": final},
            {
                "type": "response.output_item.done",
                "output_index": self.output_index,
                "item": self.item("completed"),
            },
        ]


class ToolSearchCallItem(FunctionCallItem):
    """The model asks the client to search for tools (`tool_search` with execution "client"):
    a call to the `tool_search` function, shown as a `tool_search_call` item whose arguments are
    an object, with no argument events of its own."""

    def __init__(self, output_index: int, item_id: str, call_id: str) -> None:
        super().__init__(output_index, item_id, call_id, TOOL_SEARCH)

    def item(self, status: str) -> Item:
        try:
            arguments: Any = json.loads(self.arguments or "{}")
        except json.JSONDecodeError:
            arguments = {"query": self.arguments}
        return {
            "id": self.id,
            "type": "tool_search_call",
            "status": status,
            "call_id": self.call_id,
            "execution": "client",
            "arguments": arguments,
        }

    def open(self) -> Event:
        return {
            "type": "response.output_item.added",
            "output_index": self.output_index,
            "item": {**self.item("in_progress"), "arguments": {}},
        }

    def delta(self, piece: str) -> list[Event]:
        self._arguments.append(piece)
        return []

    def close(self) -> list[Event]:
        return [
            {
                "type": "response.output_item.done",
                "output_index": self.output_index,
                "item": self.item("completed"),
            }
        ]


ClientCall = FunctionCallItem | CustomToolCallItem  # a ToolSearchCallItem is a FunctionCallItem
