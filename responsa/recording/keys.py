"""Recording keys: which upstream request a recording answers (SPEC §2).

    key = sha256(json.dumps({"method", "endpoint", "body": normalize(body), "test_id"}, sort_keys=True))

`normalize` hides what legitimately varies between runs: float noise, file_search scores and
ids, and `stream_options` (a transport detail that older recordings lack). Keys are computed
with the standard library's `json.dumps` defaults (ASCII escapes, ", " and ": " separators),
which is what makes them equal to keys computed by other recorders of this format.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

_LONG_DECIMAL = re.compile(r"-?\d+\.\d{4,}")
_SCORE = re.compile(r"score: -?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_ATTRIBUTES = re.compile(r", attributes: \{[^}]*\}")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_DOCUMENT_ID = re.compile(r"document_id: " + _UUID)
_CITATION = re.compile(r"<\|" + _UUID + r"\|>")

# Model-list calls are shared by every test, so their keys carry no test id.
MODEL_LIST_ENDPOINTS = frozenset({"/v1/models", "/v1/openai/v1/models"})
# Server-run tool calls (web search) are keyed by provider, tool name and arguments only:
# sha256(json.dumps({"provider", "tool_name", "kwargs"}, sort_keys=True)).
TOOL_ENDPOINT = "tool_invocation"


def _normalize_string(text: str) -> str:
    if "." in text:
        text = _LONG_DECIMAL.sub(lambda m: f"{float(m.group()):.5f}", text)
    if "score: " in text:
        text = _SCORE.sub("score: __NORMALIZED__", text)
    if ", attributes: {" in text:
        text = _ATTRIBUTES.sub("", text)
    if "document_id: " in text:
        text = _DOCUMENT_ID.sub("document_id: __NORMALIZED__", text)
    if "<|" in text:
        text = _CITATION.sub("<|__NORMALIZED__|>", text)
    return text


def normalize_value(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, str):
        return _normalize_string(value)
    if isinstance(value, dict):
        return {k: normalize_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_value(v) for v in value]
    return value


def normalize(body: dict[str, Any]) -> dict[str, Any]:
    """The part of an upstream request body that identifies it."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "stream_options":
            continue
        if key in ("extra_body", "extra_query") and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "project_id"}
        out[key] = normalize_value(value)
    return out


def request_key(method: str, endpoint: str, body: dict[str, Any], test_id: str | None) -> str:
    if endpoint == TOOL_ENDPOINT:
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    payload: dict[str, Any] = {"method": method.upper(), "endpoint": endpoint, "body": normalize(body)}
    if endpoint not in MODEL_LIST_ENDPOINTS:
        payload["test_id"] = test_id
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def differences(recorded: Any, requested: Any, path: str = "", limit: int = 12) -> list[str]:
    """The JSON paths where two request bodies differ (`messages[1].content`,
    `temperature (only in the request)`), at most `limit` of them, shallowest first."""
    found: list[str] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                sub = f"{where}.{key}" if where else str(key)
                if key not in a:
                    found.append(f"{sub} (only in the request)")
                elif key not in b:
                    found.append(f"{sub} (only in the recording)")
                else:
                    walk(a[key], b[key], sub)
                if len(found) >= limit:
                    return
        elif isinstance(a, list) and isinstance(b, list):
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                walk(x, y, f"{where}[{i}]")
            if len(a) != len(b):
                found.append(f"{where or '(body)'} ({len(a)} items recorded, {len(b)} requested)")
        elif a != b:
            found.append(where or "(body)")

    walk(recorded, requested, path)
    return found[:limit]
