"""Reading and writing recordings in the seeds' JSON format.

    {"test_id": "...",
     "request": {"method", "url", "headers": {}, "body", "endpoint", "model"},
     "response": {"body": [{"__type__": "openai.types.chat....ChatCompletionChunk", "__data__": {...}}, ...],
                  "is_streaming": true},
     "id_normalization_mapping": {}}

A failed upstream call is stored with `"body": null, "is_exception": true, "exception_data":
{"status_code", "body": {"message", "type", "param", "code"}, ...}`.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from responsa.errors import UpstreamError
from responsa.recording.keys import TOOL_ENDPOINT

_ALLOWED_TYPE_PREFIX = "openai.types."
_types: dict[str, type[BaseModel]] = {}


class CassetteError(ValueError):
    """A file that is not a recording in this format."""


@dataclass(slots=True)
class Recording:
    path: Path
    test_id: str | None
    request: dict[str, Any]
    response: dict[str, Any]

    @property
    def is_tool_call(self) -> bool:
        """The reference server's form of a tool recording: `request` is `{test_id, provider,
        tool_name, kwargs}` itself, with no endpoint or body."""
        return "tool_name" in self.request and "endpoint" not in self.request

    @property
    def endpoint(self) -> str:
        if self.is_tool_call:
            return TOOL_ENDPOINT
        return str(self.request.get("endpoint") or "/v1/chat/completions")

    @property
    def body(self) -> dict[str, Any]:
        if self.is_tool_call:
            return {k: self.request.get(k) for k in ("provider", "tool_name", "kwargs")}
        body = self.request.get("body")
        return body if isinstance(body, dict) else {}


def _apply_mapping(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        for original, normalized in mapping.items():
            if original in value:
                value = value.replace(original, normalized)
        return value
    if isinstance(value, dict):
        return {k: _apply_mapping(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_apply_mapping(v, mapping) for v in value]
    return value


def load(path: Path) -> Recording:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CassetteError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("request"), dict) or "response" not in data:
        raise CassetteError(f"{path}: not a recording (needs 'request' and 'response')")
    mapping = data.get("id_normalization_mapping") or {}
    if mapping:
        data = _apply_mapping(data, mapping)
    response = data["response"] if isinstance(data["response"], dict) else {}
    return Recording(path, data.get("test_id"), data["request"], response)


def _model_type(path: str) -> type[BaseModel]:
    cls = _types.get(path)
    if cls is None:
        if not path.startswith(_ALLOWED_TYPE_PREFIX):
            raise CassetteError(f"refusing to load type {path!r}: only {_ALLOWED_TYPE_PREFIX}* types")
        module_name, _, name = path.rpartition(".")
        cls = getattr(importlib.import_module(module_name), name)
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            raise CassetteError(f"{path} is not a pydantic model")
        _types[path] = cls
    return cls


def decode(value: Any) -> Any:
    """A typed `{"__type__", "__data__"}` object back to its SDK instance."""
    if isinstance(value, dict) and "__type__" in value:
        return _model_type(value["__type__"]).model_validate(value.get("__data__") or {})
    return value


CHUNK_TYPE = "openai.types.chat.chat_completion_chunk.ChatCompletionChunk"


def encode_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    """A streamed chunk (plain JSON) in the typed form recordings store."""
    return {"__type__": CHUNK_TYPE, "__data__": chunk}


def decode_chunk(value: Any) -> dict[str, Any]:
    """A recorded stream chunk back to plain JSON (checked to be a chat completion chunk)."""
    if not (
        isinstance(value, dict)
        and value.get("__type__") == CHUNK_TYPE
        and isinstance(value.get("__data__"), dict)
    ):
        raise CassetteError(f"not a chat completion chunk: {str(value)[:80]}")
    data: dict[str, Any] = value["__data__"]
    return data


def encode(value: BaseModel) -> dict[str, Any]:
    cls = type(value)
    return {"__type__": f"{cls.__module__}.{cls.__qualname__}", "__data__": value.model_dump(mode="json")}


def tool_result(response: dict[str, Any]) -> tuple[Any, str | None]:
    """A tool recording's result and error message. Ours hold the result as `body`; the
    reference server's a `ToolInvocationResult` whose `content` is the text the model read
    (for web search, a JSON string) and whose `error_message` says why it failed."""
    if response.get("is_exception"):
        return None, str(response.get("exception_message") or "the tool failed")
    body = response.get("body")
    if isinstance(body, dict) and str(body.get("__type__", "")).endswith("ToolInvocationResult"):
        data = body.get("__data__") or {}
        if data.get("error_message"):
            return None, str(data["error_message"])
        content = data.get("content")
        if isinstance(content, str):
            try:
                return json.loads(content), None
            except json.JSONDecodeError:
                return content, None
        return content, None
    return body, None


def tool_failure(message: str) -> dict[str, Any]:
    """The response of a tool call that failed (a web search, an MCP listing): what
    `tool_result` reads back as its error."""
    return {"body": None, "is_streaming": False, "is_exception": True, "exception_message": message}


def recorded_error(response: dict[str, Any]) -> UpstreamError | None:
    """The upstream error a recording holds, or None if it holds a reply."""
    if not response.get("is_exception"):
        return None
    data = response.get("exception_data") or {}
    raw_body = data.get("body")
    body: dict[str, Any] = raw_body if isinstance(raw_body, dict) else {}
    return UpstreamError(
        str(
            body.get("message")
            or data.get("message")
            or response.get("exception_message")
            or "upstream error"
        ),
        status_code=data.get("status_code"),
        error_type=body.get("type"),
        param=body.get("param"),
        code=body.get("code"),
        provider=data.get("provider"),
    )


def exception_response(error: UpstreamError) -> dict[str, Any]:
    body = {"message": error.message, "type": error.error_type, "param": error.param, "code": error.code}
    return {
        "body": None,
        "is_streaming": False,
        "is_exception": True,
        "exception_data": {
            "category": "provider_sdk",
            "provider": error.provider,
            "type": "APIStatusError" if error.upstream_status else "APIConnectionError",
            "message": error.message,
            "status_code": error.upstream_status,
            "body": body,
        },
        "exception_message": error.message,
    }


def _scrub(data: dict[str, Any], key: str) -> dict[str, Any]:
    """Stable ids and timestamps, so that re-recording gives a small diff."""
    if "id" in data:
        data["id"] = f"rec-{key[:12]}"
    if "created" in data:
        data["created"] = 0
    return data


def scrub_body(body: Any, key: str) -> Any:
    if isinstance(body, list):
        return [{**chunk, "__data__": _scrub(dict(chunk["__data__"]), key)} for chunk in body]
    if isinstance(body, dict) and "__data__" in body:
        return {**body, "__data__": _scrub(dict(body["__data__"]), key)}
    return body


def write(
    directory: Path, key: str, test_id: str | None, request: dict[str, Any], response: dict[str, Any]
) -> Path:
    """Write `<key>.json` atomically (a reader never sees half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key}.json"
    document = {
        "test_id": test_id,
        "request": {**request, "headers": {}},
        "response": {**response, "body": scrub_body(response.get("body"), key)},
        "id_normalization_mapping": {},
    }
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{key[:12]}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)
    return path
