"""Responses input into Chat Completions requests (pure functions; SPEC §3).

Two views of the same input are built here:

* `to_chat_messages` — what goes upstream. The walker hands each item to its family in
  `engine/items/` (messages, calls, reasoning), which adds chat messages through a
  `ChatBuilder`; content keeps the shape it came in. Replay depends on this byte for byte.
* `to_stored_items` — what `input_items` lists and conversations hold: every message has an
  id, a status and a list of typed parts, as the OpenAI API shows them.

`build_chat_request` then adds the sampling options and formats (tools: `engine/tools.py`).
The translation mode (`faithful`, or the reference server's `ogx`) changes only what the peer's
form would lose: `text.format.strict`/`description`, text before a tool call, parallel calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from responsa import ids
from responsa.crypto import Sealer
from responsa.engine.items import calls, compaction, messages, reasoning
from responsa.engine.items.base import OUTPUT_KINDS, ChatBuilder, check_item_id, item_kind
from responsa.engine.request import CreateResponseRequest
from responsa.errors import InvalidRequest
from responsa.types import ChatMessages, ChatRequest, Item

# Items that are history for the client but carry nothing the model needs to see again
# (`additional_tools` carries tools: `carried_tools` reads them).
SILENT_ITEMS = frozenset(
    {
        "mcp_list_tools",
        "web_search_call",
        "file_search_call",
        "mcp_approval_request",
        "mcp_approval_response",
        "image_generation_call",
        "additional_tools",
    }
)
Converter = Callable[[Item, str, ChatBuilder], None]
CONVERTERS: dict[str, Converter] = {
    "message": messages.convert_message,
    "function_call": calls.convert_function_call,
    "custom_tool_call": calls.convert_custom_call,
    "tool_search_call": calls.convert_tool_search_call,
    "mcp_call": calls.convert_mcp_call,
    "reasoning": reasoning.convert_reasoning,
    "compaction": compaction.convert_compaction,
    compaction.TRIGGER: compaction.convert_trigger,
}

# Output-token ceilings of OpenAI models; dated snapshots match by prefix (longest first).
_MAX_COMPLETION_TOKENS = {
    "gpt-4o-mini": 16384,
    "gpt-4o": 16384,
    "gpt-4.1": 32768,
    "gpt-4-turbo": 4096,
    "gpt-4": 8192,
    "o1-mini": 65536,
    "o1": 100000,
    "o3-pro": 100000,
    "o3": 100000,
    "o4-mini": 100000,
}
_CEILING_PREFIXES = sorted(_MAX_COMPLETION_TOKENS, key=len, reverse=True)


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """How input becomes messages for one provider: the translation mode, the key that opens
    encrypted reasoning, and whether custom tool calls use the Chat API's own `custom` type."""

    faithful: bool = True
    sealer: Sealer | None = None
    custom_native: bool = False


DEFAULT_OPTIONS = ChatOptions()


def _last_user_content(previous: ChatMessages) -> Any:
    for message in reversed(previous):
        if message.get("role") == "user":
            return message.get("content")
    return None


def _previous_call_ids(previous: ChatMessages) -> set[str]:
    return {
        call.get("id")
        for message in previous
        if message.get("role") == "assistant"
        for call in message.get("tool_calls") or ()
    }


def to_chat_messages(
    input: str | list[Item],
    previous: ChatMessages | None = None,
    first_new: int = 0,
    options: ChatOptions = DEFAULT_OPTIONS,
) -> ChatMessages:
    """Convert a request's `input` to chat messages. With `previous` (a continued response), a
    user message equal to the last earlier user message is dropped, and an output may answer a
    call made in an earlier turn. Items before `first_new` are history (a conversation's items):
    an output there whose call is gone is dropped, not an error."""
    if isinstance(input, str):
        return [{"role": "user", "content": input}]
    builder = ChatBuilder(
        faithful=options.faithful,
        sealer=options.sealer,
        custom_native=options.custom_native,
        output_converter=calls.output_messages,
        repeated_user=_last_user_content(previous) if previous is not None else None,
        has_previous=previous is not None,
    )
    for i, item in enumerate(input):
        if item_kind(item, f"input[{i}]") in OUTPUT_KINDS:
            builder.outputs[calls.output_call_id(item, f"input[{i}]")] = (i, item)
    for i, item in enumerate(input):
        where = f"input[{i}]"
        kind = item_kind(item, where)
        check_item_id(item, where)
        converter = CONVERTERS.get(kind)
        if converter is not None:
            converter(item, where, builder)
            continue
        if kind in OUTPUT_KINDS:
            if item.get("call_id") in builder.open_calls:
                builder.close()  # an answered call ends its message: a later call starts a new one
            continue
        if kind in SILENT_ITEMS:
            continue
        raise InvalidRequest(
            f"Invalid value for '{where}.type': input item type {kind!r} is not supported.",
            param=f"{where}.type",
        )
    builder.close()

    outputs = {call_id: entry for call_id, entry in builder.outputs.items() if entry[0] >= first_new}
    if outputs:
        known = _previous_call_ids(previous) if previous is not None else set()
        unmatched = [call_id for call_id in outputs if call_id not in known]
        if unmatched:
            raise InvalidRequest(
                f"No tool call found for function call output with call_id {unmatched[0]}.",
                param="input",
            )
        for call_id, (j, output_item) in sorted(outputs.items(), key=lambda kv: kv[1][0]):
            builder.messages.extend(calls.output_messages(call_id, output_item, f"input[{j}]"))
    return builder.messages


def carried_tools(input: str | list[Item]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Tools that items carry: `additional_tools` items, and the tools a client-executed tool
    search loaded (`tool_search_output`), each with its parameter path."""
    if isinstance(input, str):
        return []
    found: list[tuple[str, list[dict[str, Any]]]] = []
    for i, item in enumerate(input):
        if item.get("type") in ("additional_tools", "tool_search_output"):
            tools = item.get("tools")
            if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
                raise InvalidRequest(
                    f"Invalid type for 'input[{i}].tools': expected an array of tools.",
                    param=f"input[{i}].tools",
                )
            found.append((f"input[{i}].tools", tools))
    return found


def _stored_part(part: dict[str, Any], role: str) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "output_text" or (kind == "input_text" and role == "assistant"):
        return {
            "type": "output_text",
            "text": part.get("text", ""),
            "annotations": part.get("annotations") or [],
            "logprobs": part.get("logprobs") or [],
        }
    if kind == "input_image":
        return {**part, "detail": part.get("detail") or "auto"}
    return dict(part)


def normalize_item(item: Item) -> Item:
    """An item as the API shows it: typed, and a message with a status and a list of parts."""
    kind = item.get("type") or "message"
    shown = {**item, "type": kind}
    if kind == "message":
        role = str(item.get("role"))
        content = item.get("content")
        if isinstance(content, str):
            part = "output_text" if role == "assistant" else "input_text"
            shown["content"] = [_stored_part({"type": part, "text": content}, role)]
        else:
            shown["content"] = [_stored_part(p, role) for p in content or ()]
        if shown.get("status") is None:
            shown["status"] = "completed"
    return shown


def with_id(item: Item, response_id: str | None = None) -> Item:
    """The item with an id: its own, or a new one (`msg_` for messages, `item_` otherwise),
    made for `response_id` when the item is a response's input (`ids.item_id`)."""
    if item.get("id"):
        return item
    prefix = "msg" if (item.get("type") or "message") == "message" else "item"
    return {**item, "id": ids.item_id(prefix, response_id) if response_id else ids.new_id(prefix)}


def to_stored_items(input: str | list[Item], response_id: str | None = None) -> list[Item]:
    """The request's input as the items `input_items` lists (ids, statuses and typed parts added)."""
    if isinstance(input, str):
        input = [{"type": "message", "role": "user", "content": input}]
    return [with_id(normalize_item(item), response_id) for item in input]


def _response_format(text: Mapping[str, Any] | None, faithful: bool) -> dict[str, Any] | None:
    fmt = (text or {}).get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise InvalidRequest(
            "Invalid value for 'text.format.type': expected 'text', 'json_object' or 'json_schema'.",
            param="text.format.type",
        )
    if fmt["type"] == "text":
        return None
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    name, schema = fmt.get("name"), fmt.get("schema")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("Missing required parameter: 'text.format.name'.", param="text.format.name")
    if not isinstance(schema, dict):
        raise InvalidRequest(
            "Invalid value for 'text.format.schema': expected a JSON schema object.",
            param="text.format.schema",
        )
    json_schema: dict[str, Any] = {"name": name, "schema": schema}
    if faithful:  # the peer drops these, so an OpenAI upstream would no longer enforce the schema
        if fmt.get("description") is not None:
            json_schema["description"] = fmt["description"]
        if fmt.get("strict") is not None:
            json_schema["strict"] = fmt["strict"]
    return {"type": "json_schema", "json_schema": json_schema}


def _clamp_completion_tokens(model: str, tokens: int) -> int:
    for prefix in _CEILING_PREFIXES:
        if model.startswith(prefix):
            return min(tokens, _MAX_COMPLETION_TOKENS[prefix])
    return tokens


def build_chat_request(
    req: CreateResponseRequest, upstream_model: str, messages: ChatMessages, faithful: bool = True
) -> ChatRequest:
    """The upstream body for the first model call of a response (tools are added by
    `ToolSet.apply`): nulls are never sent, and only fields Chat Completions defines (the
    request's unknown fields ride in `extra_body`)."""
    body: ChatRequest = {"model": upstream_model, "messages": messages}
    if req.frequency_penalty is not None:
        body["frequency_penalty"] = req.frequency_penalty
    if "message.output_text.logprobs" in (req.include or ()) or req.top_logprobs:
        body["logprobs"] = True
    if req.max_output_tokens is not None:
        body["max_completion_tokens"] = _clamp_completion_tokens(upstream_model, req.max_output_tokens)
    if req.presence_penalty is not None:
        body["presence_penalty"] = req.presence_penalty
    response_format = _response_format(req.text, faithful)
    if response_format is not None:
        body["response_format"] = response_format
    body["stream"] = True
    stream_options: dict[str, Any] = {"include_usage": True}
    if req.stream_options is not None:
        stream_options["include_obfuscation"] = req.stream_options.get("include_obfuscation", True)
    body["stream_options"] = stream_options
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_logprobs is not None:
        body["top_logprobs"] = req.top_logprobs
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.safety_identifier is not None:
        body["safety_identifier"] = req.safety_identifier
    if req.service_tier is not None:
        body["service_tier"] = req.service_tier
    effort = (req.reasoning or {}).get("effort")
    if effort is not None:
        body["reasoning_effort"] = effort
    if req.prompt_cache_key is not None:
        body["prompt_cache_key"] = req.prompt_cache_key
    if req.prompt_cache_retention is not None:
        body["prompt_cache_retention"] = req.prompt_cache_retention
    verbosity = (req.text or {}).get("verbosity")
    if faithful and verbosity is not None:
        body["verbosity"] = verbosity
    extra = req.extra_fields
    if extra:
        body["extra_body"] = extra
    return body
