"""Request plumbing shared by the routes: the engine from app state, the JSON body with a size
limit, and the test id taken from the headers into a context variable."""

from __future__ import annotations

import re
import zlib
from typing import Annotated, Any, Literal

import orjson
from fastapi import Query, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from responsa.auth.principal import current_principal
from responsa.context import current_provider_data, current_test_id
from responsa.engine.run import Engine
from responsa.errors import InvalidRequest, PayloadTooLarge
from responsa.store.base import Store


# `async def`: FastAPI would run a plain `def` dependency in a thread pool, a thread hop per request.
async def engine(request: Request) -> Engine:
    result: Engine = request.app.state.engine
    return result


async def store(request: Request) -> Store:
    result: Store = request.app.state.store
    return result


# Query parameters every cursor-paginated list takes.
Limit = Annotated[int, Query(ge=1, le=100)]
Order = Annotated[Literal["asc", "desc"], Query()]


def scope() -> str | None:
    """The caller's owner, or None for an admin (who sees every owner's objects)."""
    return current_principal.get().scope


def json_response(data: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status_code, media_type="application/json")


def list_page(data: list[dict[str, Any]], has_more: bool) -> Response:
    """A cursor page in the OpenAI list shape. An empty page has `first_id` and `last_id` ""
    (the empty string): the SDK's list types (`ConversationItemList`, `ResponseItemList`)
    declare both as required strings, so null or a missing key fails their validation, and ""
    is no id, so a client that passes it back as a cursor gets an error naming it, not the first
    page again."""
    return json_response(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else "",
            "last_id": data[-1]["id"] if data else "",
            "has_more": has_more,
        }
    )


def _decode(body: bytes, encoding: str, limit: int) -> bytes:
    """A `Content-Encoding: zstd` or `gzip` body (Codex sends zstd), never larger than `limit`."""
    too_large = PayloadTooLarge(f"The decoded request body is larger than the limit of {limit} bytes.")
    import zstandard

    try:
        if encoding == "zstd":
            parts: list[bytes] = []
            size = 0
            with zstandard.ZstdDecompressor().stream_reader(body, read_across_frames=True) as reader:
                while size <= limit and (chunk := reader.read(min(1 << 20, limit + 1 - size))):
                    parts.append(chunk)
                    size += len(chunk)
            out = b"".join(parts)
        elif encoding in ("gzip", "x-gzip"):
            out = zlib.decompressobj(wbits=31).decompress(body, limit + 1)
        elif encoding == "deflate":
            out = zlib.decompressobj().decompress(body, limit + 1)
        else:
            raise InvalidRequest(
                f"Unsupported Content-Encoding {encoding!r}: send identity, gzip, deflate or zstd.",
                code="unsupported_content_encoding",
            )
    except (zlib.error, zstandard.ZstdError, ValueError, OSError) as exc:
        raise InvalidRequest(
            f"The request body could not be decoded as {encoding}: {exc}.", code="invalid_content_encoding"
        ) from None
    if len(out) > limit:
        raise too_large
    return out


async def read_json(request: Request) -> Any:
    """The request body as JSON, refusing bodies over the configured size before reading them."""
    limit: int = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if body and encoding not in ("", "identity"):
        body = bytearray(_decode(bytes(body), encoding, limit))
    return parse_json(body)


def parse_json(body: bytes | bytearray) -> Any:
    """A request body (or a WebSocket frame) as JSON: not empty, no NUL, not nested too deep."""
    if not body:
        raise InvalidRequest("The request body is empty; send a JSON object.", code="invalid_json")
    if _NUL.search(body):  # PostgreSQL text cannot hold U+0000; nowhere is it meaningful
        raise InvalidRequest("The request body contains a NUL character (\\u0000).", code="invalid_json")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"We could not parse the JSON body of your request ({exc}). Send valid JSON.",
            code="invalid_json",
        ) from None
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _depth(data) > MAX_DEPTH:
        raise InvalidRequest(f"The request body nests deeper than {MAX_DEPTH} levels.", code="invalid_json")
    return data


MAX_DEPTH = 64
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _depth(value: Any, level: int = 0) -> int:
    """How deep `value` nests, counted only until it passes MAX_DEPTH."""
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _request_context(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, dict[str, Any] | None]:
    """The test id and the provider data carried by the headers (bad provider data is ignored)."""
    test_id: str | None = None
    provider_data: dict[str, Any] | None = None
    for name, value in headers:
        if name == b"x-responsa-test-id":
            test_id = value.decode("latin-1") or None
        elif name == b"x-ogx-provider-data":
            try:
                data = orjson.loads(value)
            except orjson.JSONDecodeError:
                continue
            if isinstance(data, dict):
                provider_data = data
    if test_id is None and provider_data is not None and isinstance(provider_data.get("__test_id"), str):
        test_id = provider_data["__test_id"]
    return test_id, provider_data


class TestIdMiddleware:
    """Puts the caller's test id (`X-Responsa-Test-Id`, or `__test_id` in `X-OGX-Provider-Data`)
    and provider data into `responsa.context` for everything the request does, its stream
    included (for a WebSocket: from its handshake, for every response on the connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        test_id, provider_data = _request_context(scope["headers"])
        if test_id is None and provider_data is None:
            await self.app(scope, receive, send)
            return
        token = current_test_id.set(test_id)
        data_token = current_provider_data.set(provider_data)
        try:
            await self.app(scope, receive, send)
        finally:
            current_provider_data.reset(data_token)
            current_test_id.reset(token)
