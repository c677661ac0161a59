"""A `file_id` in a response's input, from the translated chat part to the bytes upstream.

Translation (`engine/items/content.py`) is pure, so it writes a reference where the bytes go:

    {"type": "image_url", "image_url": {"file_id": "file-…", "detail": "auto"}}    # input_image
    {"type": "file", "file": {"file_id": "file-…", "filename": "a.pdf"}}           # input_file

These references are what the stored chat messages keep (a later turn reads the file again;
a deleted file is then a clear 400), and `resolve` swaps them for the content just before each
upstream call (SPEC §1.3.2): an image becomes a `data:` URL of its type; a file becomes
`file_data` (a `data:` URL) with its filename, the given one or the stored one; in a tool
message a file becomes text (`text/*` decoded, anything else the data URL as text, §1.3.3).
"""

from __future__ import annotations

import base64
from typing import Any

from responsa.errors import InvalidRequest
from responsa.files.storage import Files
from responsa.store.base import StoredFile
from responsa.types import ChatMessages, Item


def image_ref(file_id: str, detail: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"file_id": file_id, "detail": detail}}


def file_ref(file_id: str, filename: str | None) -> dict[str, Any]:
    file: dict[str, Any] = {"file_id": file_id}
    if filename is not None:
        file["filename"] = filename
    return {"type": "file", "file": file}


def _ref_id(part: Any) -> str | None:
    if not isinstance(part, dict):
        return None
    inner = part.get("image_url") if part.get("type") == "image_url" else None
    if part.get("type") == "file":
        inner = part.get("file")
    file_id = inner.get("file_id") if isinstance(inner, dict) else None
    return file_id if isinstance(file_id, str) else None


def referenced(messages: ChatMessages) -> list[str]:
    """The file ids the messages' parts refer to, each once, in order."""
    found: dict[str, None] = {}
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if (file_id := _ref_id(part)) is not None:
                    found[file_id] = None
    return list(found)


def input_file_ids(input: str | list[Item]) -> dict[str, str]:
    """The file ids a request's own input names, with the parameter path of each (its first)."""
    named: dict[str, str] = {}
    if isinstance(input, str):
        return named
    for i, item in enumerate(input):
        for key in ("content", "output"):
            parts = item.get(key) if isinstance(item, dict) else None
            if not isinstance(parts, list):
                continue
            for j, part in enumerate(parts):
                file_id = part.get("file_id") if isinstance(part, dict) else None
                if isinstance(file_id, str):
                    named.setdefault(file_id, f"input[{i}].{key}[{j}].file_id")
    return named


def missing_file(file_id: str) -> InvalidRequest:
    return InvalidRequest(
        f"The conversation history refers to file '{file_id}', which no longer exists "
        "(deleted or expired); upload it again and send it anew, or start from a turn before it.",
        param="input",
        code="file_not_found",
    )


def _data_url(file: StoredFile, data: bytes) -> str:
    return f"data:{file.content_type};base64,{base64.b64encode(data).decode('ascii')}"


def _as_text(file: StoredFile, data: bytes) -> str:
    if file.content_type.startswith("text/"):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return _data_url(file, data)


def _resolved(part: dict[str, Any], file: StoredFile, data: bytes, role: str) -> dict[str, Any]:
    if part["type"] == "image_url":
        detail = part["image_url"].get("detail") or "auto"
        return {"type": "image_url", "image_url": {"url": _data_url(file, data), "detail": detail}}
    if role == "tool":
        return {"type": "text", "text": _as_text(file, data)}
    return {
        "type": "file",
        "file": {
            "file_data": _data_url(file, data),
            "filename": part["file"].get("filename") or file.filename,
        },
    }


async def resolve(messages: ChatMessages, files: Files, owner: str | None) -> ChatMessages:
    """The messages with every file reference replaced by the file's content (new lists and
    dicts where something changed; the given messages stay as they are). A file that is gone
    is a 400 naming it."""
    wanted = referenced(messages)
    if not wanted:
        return messages
    found = await files.find(wanted, owner)
    contents: dict[str, bytes] = {}
    for file_id in wanted:
        if file_id not in found:
            raise missing_file(file_id)
        contents[file_id] = await files.content(found[file_id])
    out: ChatMessages = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list) or not any(_ref_id(part) for part in content):
            out.append(message)
            continue
        role = str(message.get("role"))
        parts = [
            _resolved(part, found[ref], contents[ref], role) if (ref := _ref_id(part)) is not None else part
            for part in content
        ]
        out.append({**message, "content": parts})
    return out
