"""Responses input into Chat Completions requests (pure functions; SPEC §3).

Two views of the same input are built here:

* `to_chat_messages` — what goes upstream. Content keeps the shape it came in: a string stays a
  string, a list of parts stays a list (`input_text` -> `text`, `input_image` -> `image_url`
  with `detail`). Replay depends on this byte for byte.
* `to_stored_items` — what `input_items` lists and conversations hold: every message has an
  id, a status and a list of typed parts, as the OpenAI API shows them.

`build_chat_request` then adds the sampling options, tools and formats.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from typing import Any

from responsa import ids
from responsa.engine.request import CreateResponseRequest
from responsa.errors import InvalidRequest
from responsa.types import ChatMessage, ChatMessages, ChatRequest, Item

MESSAGE_ROLES = ("user", "system", "developer", "assistant")
# Items that are history for the client but carry nothing the model needs to see again.
SILENT_ITEMS = frozenset(
    {"mcp_list_tools", "web_search_call", "file_search_call", "mcp_approval_request", "mcp_approval_response"}
)

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


def _item_kind(item: Item, where: str) -> str:
    kind = item.get("type")
    if kind is None and "role" in item:
        return "message"
    if not isinstance(kind, str):
        raise InvalidRequest(f"Missing required parameter: '{where}.type'.", param=f"{where}.type")
    return kind


def _role(item: Item, where: str) -> str:
    role = item.get("role")
    if role not in MESSAGE_ROLES:
        raise InvalidRequest(
            f"Invalid value for '{where}.role': expected one of {', '.join(MESSAGE_ROLES)}, got {role!r}.",
            param=f"{where}.role",
        )
    return str(role)


def _data_url(data: str, filename: str | None) -> str:
    if data.startswith("data:"):
        return data
    mime = (mimetypes.guess_type(filename)[0] if filename else None) or "application/octet-stream"
    return f"data:{mime};base64,{data}"


def _text(part: Item, where: str) -> str:
    text = part.get("text")
    if not isinstance(text, str):
        raise InvalidRequest(f"Invalid type for '{where}.text': expected a string.", param=f"{where}.text")
    return text


def _chat_part(part: Any, where: str) -> dict[str, Any]:
    if not isinstance(part, dict):
        raise InvalidRequest(f"Invalid type for '{where}': expected an object.", param=where)
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": _text(part, where)}
    if kind == "input_image":
        url = part.get("image_url")
        if isinstance(url, str) and url:
            return {"type": "image_url", "image_url": {"url": url, "detail": part.get("detail") or "auto"}}
        if part.get("file_id"):
            raise InvalidRequest(
                f"'{where}.file_id' needs the Files API, which this server does not offer; "
                "send the image as 'image_url' (a URL or a base64 data URL).",
                param=f"{where}.file_id",
            )
        raise InvalidRequest(f"Missing required parameter: '{where}.image_url'.", param=f"{where}.image_url")
    if kind == "input_file":
        filename = part.get("filename")
        if isinstance(part.get("file_data"), str):
            data = _data_url(part["file_data"], filename)
        elif isinstance(part.get("file_url"), str):
            data = part["file_url"]
        elif part.get("file_id"):
            raise InvalidRequest(
                f"'{where}.file_id' needs the Files API, which this server does not offer; "
                "send the file as 'file_data' or 'file_url'.",
                param=f"{where}.file_id",
            )
        else:
            raise InvalidRequest(
                f"Missing required parameter: '{where}.file_data'.", param=f"{where}.file_data"
            )
        file: dict[str, Any] = {"file_data": data}
        if filename is not None:
            file["filename"] = filename
        return {"type": "file", "file": file}
    raise InvalidRequest(
        f"Invalid value for '{where}.type': content part type {kind!r} is not supported in input.",
        param=f"{where}.type",
    )


def _chat_content(content: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return [_chat_part(part, f"{where}[{i}]") for i, part in enumerate(content)]
    raise InvalidRequest(f"Invalid type for '{where}': expected a string or an array.", param=where)


def _tool_output_messages(call_id: str, output: Any, where: str) -> ChatMessages:
    """The tool message for a `function_call_output`, plus a user message for any images."""
    if isinstance(output, str):
        return [{"role": "tool", "tool_call_id": call_id, "content": output}]
    if not isinstance(output, list):
        raise InvalidRequest(
            f"Invalid type for '{where}.output': expected a string or an array.", param=f"{where}.output"
        )
    texts: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for i, part in enumerate(output):
        chat = _chat_part(part, f"{where}.output[{i}]")
        if chat["type"] == "image_url":
            images.append(chat)
        elif chat["type"] == "file":
            texts.append({"type": "text", "text": _file_text(chat["file"]["file_data"])})
        else:
            texts.append(chat)
    messages: ChatMessages = [
        {"role": "tool", "tool_call_id": call_id, "content": texts or [{"type": "text", "text": "[image]"}]}
    ]
    if images:
        messages.append({"role": "user", "content": images})
    return messages


def _file_text(data_url: str) -> str:
    header, sep, payload = data_url.partition(",")
    if sep and header.startswith("data:text/") and header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return data_url
    return data_url


def _last_user_content(messages: ChatMessages) -> Any:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message.get("content")
    return None


def _previous_call_ids(messages: ChatMessages) -> set[str]:
    return {
        call.get("id")
        for message in messages
        if message.get("role") == "assistant"
        for call in message.get("tool_calls") or ()
    }


def to_chat_messages(
    input: str | list[Item], previous: ChatMessages | None = None, first_new: int = 0
) -> ChatMessages:
    """Convert a request's `input` to chat messages. With `previous` (a continued response), a
    user message equal to the last earlier user message is dropped, and a `function_call_output`
    may answer a call made in an earlier turn. Items before `first_new` are history (a
    conversation's items): an output there whose call is gone is dropped, not an error."""
    if isinstance(input, str):
        return [{"role": "user", "content": input}]
    outputs: dict[str, tuple[int, Item]] = {}
    for i, item in enumerate(input):
        if _item_kind(item, f"input[{i}]") == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str):
                raise InvalidRequest(
                    f"Missing required parameter: 'input[{i}].call_id'.", param=f"input[{i}].call_id"
                )
            outputs[call_id] = (i, item)

    last_user = _last_user_content(previous) if previous is not None else None
    messages: ChatMessages = []
    reasoning: str | None = None
    for i, item in enumerate(input):
        where = f"input[{i}]"
        kind = _item_kind(item, where)
        pending_reasoning, reasoning = reasoning, None
        if kind == "message":
            role = _role(item, where)
            content = _chat_content(item.get("content"), f"{where}.content")
            if previous is not None and role == "user" and content == last_user:
                continue
            message: ChatMessage = {"role": role, "content": content}
            if role == "assistant" and pending_reasoning:
                message["reasoning_content"] = pending_reasoning
            messages.append(message)
        elif kind == "function_call":
            call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments")
            if not (isinstance(call_id, str) and isinstance(name, str) and isinstance(arguments, str)):
                raise InvalidRequest(
                    f"Invalid value for '{where}': a function_call needs string "
                    "'call_id', 'name' and 'arguments'.",
                    param=where,
                )
            message = {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": call_id,
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }
                ],
            }
            if pending_reasoning:
                message["reasoning_content"] = pending_reasoning
            messages.append(message)
            if call_id in outputs:
                j, output_item = outputs.pop(call_id)
                messages.extend(_tool_output_messages(call_id, output_item.get("output"), f"input[{j}]"))
        elif kind == "mcp_call":
            call_id = str(item.get("id"))
            messages.append(
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": item.get("name"), "arguments": item.get("arguments")},
                        }
                    ],
                }
            )
            messages.append({"role": "tool", "tool_call_id": call_id, "content": item.get("output") or ""})
        elif kind == "reasoning":
            texts = [c.get("text", "") for c in item.get("content") or () if isinstance(c, dict)]
            reasoning = " ".join(texts) or None
        elif kind == "function_call_output" or kind in SILENT_ITEMS:
            continue
        else:
            raise InvalidRequest(
                f"Invalid value for '{where}.type': input item type {kind!r} is not supported.",
                param=f"{where}.type",
            )

    outputs = {call_id: entry for call_id, entry in outputs.items() if entry[0] >= first_new}
    if outputs:
        known = _previous_call_ids(previous) if previous is not None else set()
        unmatched = [call_id for call_id in outputs if call_id not in known]
        if unmatched:
            raise InvalidRequest(
                f"No tool call found for function call output with call_id {unmatched[0]}.",
                param="input",
            )
        for call_id, (j, output_item) in sorted(outputs.items(), key=lambda kv: kv[1][0]):
            messages.extend(_tool_output_messages(call_id, output_item.get("output"), f"input[{j}]"))
    return messages


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


def with_id(item: Item) -> Item:
    """The item with an id: its own, or a new one (`msg_` for messages, `item_` otherwise)."""
    if item.get("id"):
        return item
    kind = item.get("type") or "message"
    return {**item, "id": ids.message_id() if kind == "message" else ids.new_id("item")}


def to_stored_items(input: str | list[Item]) -> list[Item]:
    """The request's input as the items `input_items` lists (ids, statuses and typed parts added)."""
    if isinstance(input, str):
        input = [{"type": "message", "role": "user", "content": input}]
    return [with_id(normalize_item(item)) for item in input]


def _response_format(text: dict[str, Any] | None) -> dict[str, Any] | None:
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
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}


def _clamp_completion_tokens(model: str, tokens: int) -> int:
    for prefix in _CEILING_PREFIXES:
        if model.startswith(prefix):
            return min(tokens, _MAX_COMPLETION_TOKENS[prefix])
    return tokens


def build_chat_request(
    req: CreateResponseRequest, upstream_model: str, messages: ChatMessages
) -> ChatRequest:
    """The upstream body for the first model call of a response (tools are added by
    `ToolSet.apply`): nulls are never sent."""
    body: ChatRequest = {"model": upstream_model, "messages": messages}
    if req.frequency_penalty is not None:
        body["frequency_penalty"] = req.frequency_penalty
    if "message.output_text.logprobs" in (req.include or ()) or req.top_logprobs:
        body["logprobs"] = True
    if req.max_output_tokens is not None:
        body["max_completion_tokens"] = _clamp_completion_tokens(upstream_model, req.max_output_tokens)
    if req.presence_penalty is not None:
        body["presence_penalty"] = req.presence_penalty
    response_format = _response_format(req.text)
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
    extra = req.extra_fields
    if extra:
        body["extra_body"] = extra
    return body
