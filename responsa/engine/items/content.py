"""Content parts: Responses input parts into Chat Completions parts, keeping the shape they came
in (a string stays a string, a list stays a list: replay depends on it byte for byte).

A part naming an uploaded file (`file_id`) becomes a reference (`files/parts.py`), which is
swapped for the file's content just before the upstream call."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from typing import Any

from responsa.errors import InvalidRequest
from responsa.files import parts as file_parts
from responsa.types import ChatMessages


def _data_url(data: str, filename: str | None) -> str:
    if data.startswith("data:"):
        return data
    mime = (mimetypes.guess_type(filename)[0] if filename else None) or "application/octet-stream"
    return f"data:{mime};base64,{data}"


def _text(part: dict[str, Any], key: str, where: str) -> str:
    text = part.get(key)
    if not isinstance(text, str):
        raise InvalidRequest(f"Invalid type for '{where}.{key}': expected a string.", param=f"{where}.{key}")
    return text


def _file_part(part: dict[str, Any], where: str) -> dict[str, Any]:
    filename = part.get("filename")
    if filename is not None and not isinstance(filename, str):
        raise InvalidRequest(
            f"Invalid type for '{where}.filename': expected a string.", param=f"{where}.filename"
        )
    file_id = part.get("file_id")
    if file_id is not None and not (isinstance(file_id, str) and file_id):
        raise InvalidRequest(
            f"Invalid type for '{where}.file_id': expected a string.", param=f"{where}.file_id"
        )
    if file_id:  # SPEC §1.3.2: an uploaded file wins over data given inline
        return file_parts.file_ref(file_id, filename)
    if isinstance(part.get("file_data"), str):
        data = _data_url(part["file_data"], filename)
    elif isinstance(part.get("file_url"), str):
        data = part["file_url"]
    else:
        raise InvalidRequest(f"Missing required parameter: '{where}.file_data'.", param=f"{where}.file_data")
    file: dict[str, Any] = {"file_data": data}
    if filename is not None:
        file["filename"] = filename
    return {"type": "file", "file": file}


def chat_part(part: Any, where: str, role: str = "user") -> dict[str, Any]:
    if not isinstance(part, dict):
        raise InvalidRequest(f"Invalid type for '{where}': expected an object.", param=where)
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": _text(part, "text", where)}
    if kind == "refusal":  # the model's own earlier refusal, sent back as history
        refusal = _text(part, "refusal", where)
        return (
            {"type": "refusal", "refusal": refusal}
            if role == "assistant"
            else {"type": "text", "text": refusal}
        )
    if kind == "input_image":
        url = part.get("image_url")
        if isinstance(url, str) and url:
            return {"type": "image_url", "image_url": {"url": url, "detail": part.get("detail") or "auto"}}
        file_id = part.get("file_id")
        if isinstance(file_id, str) and file_id:
            return file_parts.image_ref(file_id, part.get("detail") or "auto")
        raise InvalidRequest(f"Missing required parameter: '{where}.image_url'.", param=f"{where}.image_url")
    if kind == "input_file":
        return _file_part(part, where)
    raise InvalidRequest(
        f"Invalid value for '{where}.type': content part type {kind!r} is not supported in input.",
        param=f"{where}.type",
    )


def chat_content(content: Any, where: str, role: str = "user") -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return [chat_part(part, f"{where}[{i}]", role) for i, part in enumerate(content)]
    raise InvalidRequest(f"Invalid type for '{where}': expected a string or an array.", param=where)


def _file_text(data_url: str) -> str:
    header, sep, payload = data_url.partition(",")
    if sep and header.startswith("data:text/") and header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return data_url
    return data_url


def tool_output_messages(call_id: str, output: Any, where: str) -> ChatMessages:
    """The tool message for a call's output, plus a user message for any images in it."""
    if isinstance(output, str):
        return [{"role": "tool", "tool_call_id": call_id, "content": output}]
    if not isinstance(output, list):
        raise InvalidRequest(
            f"Invalid type for '{where}.output': expected a string or an array.", param=f"{where}.output"
        )
    texts: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for i, part in enumerate(output):
        chat = chat_part(part, f"{where}.output[{i}]")
        if chat["type"] == "image_url":
            images.append(chat)
        elif chat["type"] == "file" and "file_id" in chat["file"]:
            texts.append(chat)  # becomes text once the file is read (`files/parts.resolve`)
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
