"""One access line and the HTTP metrics per request, around everything `app.Responsa` serves.

    await access.observe(app, scope, receive, send)
    access.note(request.scope, model="gpt-4o", response_id="resp_...")   # from a route

The line is written when the response's last byte is sent (a stream's end), at INFO (at DEBUG
for a successful probe or scrape, `/v1/health` and `/metrics`, which would drown the rest):

    POST /v1/responses 200 12.3 ms id=resp_… model=gpt-4o ua='OpenAI/Python 1.99.0'

A 4xx or 5xx line is at WARNING and adds the error's code, param and message (read from the
JSON error body the one handler writes). No header but User-Agent, no query string and no body
is logged. The route label of the metrics is the route's template (`/v1/responses/{response_id}`),
"unmatched" for a path no route serves, so ids never become label values.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from responsa.observability import metrics

log = logging.getLogger("responsa.access")

NOTE = "responsa.access"  # the scope key a route's notes go under
ROUTE = "responsa.route"  # set for routes taken before FastAPI's routing
PROBES = frozenset({"/v1/health", "/metrics"})
ERROR_BODY_BYTES = 4096
MESSAGE_CHARS = 300


def note(scope: Scope, **fields: str | None) -> None:
    """Add `model` or `response_id` to this request's access line."""
    scope.setdefault(NOTE, {}).update(fields)


async def observe(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    started = time.perf_counter()
    status = 500
    error_body: bytearray | None = None

    async def watched(message: Message) -> None:
        nonlocal status, error_body
        if message["type"] == "http.response.start":
            status = message["status"]
            if status >= 400:
                error_body = bytearray()
        elif error_body is not None and len(error_body) < ERROR_BODY_BYTES:
            error_body += message.get("body", b"")
        await send(message)

    try:
        await app(scope, receive, watched)
    finally:
        _finish(scope, status, time.perf_counter() - started, error_body)


def _route(scope: Scope) -> str:
    fast = scope.get(ROUTE)
    if fast is not None:
        return str(fast)
    route = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


def _finish(scope: Scope, status: int, seconds: float, error_body: bytearray | None) -> None:
    method = scope["method"]
    metrics.request(_route(scope), method, status, seconds)
    quiet = status < 400 and scope["path"] in PROBES
    level = logging.WARNING if status >= 400 else logging.DEBUG if quiet else logging.INFO
    if not log.isEnabledFor(level):
        return
    notes: dict[str, Any] = scope.get(NOTE) or {}
    response_id = notes.get("response_id") or (scope.get("path_params") or {}).get("response_id")
    model = notes.get("model")
    agent = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"user-agent"), None)
    fields: dict[str, Any] = {
        "method": method,
        "path": scope["path"],
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "response_id": response_id,
        "model": model,
        "user_agent": agent,
    }
    text = f"{method} {scope['path']} {status} {seconds * 1000:.1f} ms"
    if response_id:
        text += f" id={response_id}"
    if model:
        text += f" model={model}"
    if error_body is not None:
        error = _error_fields(bytes(error_body))
        fields.update(error)
        text += "".join(f" {key}={error[key]}" for key in ("code", "param") if error.get(key))
        if error.get("error_message"):
            text += f": {error['error_message']}"
    text += f" ua={agent!r}"
    log.log(level, "%s", text, extra={"fields": fields})


def _error_fields(body: bytes) -> dict[str, Any]:
    """The code, param and (shortened) message of an OpenAI-shaped error body."""
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return {}
    if not isinstance(error, dict):
        return {}
    message = str(error.get("message") or "").splitlines()[0][:MESSAGE_CHARS] if error.get("message") else ""
    return {"code": error.get("code"), "param": error.get("param"), "error_message": message}
