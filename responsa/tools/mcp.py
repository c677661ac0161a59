"""MCP servers through the official `mcp` SDK: list their tools and call them.

Each use opens a short session (streamable HTTP, or SSE when the URL path ends in `/sse`),
with the request's `headers` and `authorization` (as a bearer token), bounded by timeouts so
an unreachable or stuck server fails cleanly instead of hanging the response. Every HTTP request
of a session (redirects included) passes the outbound policy (`responsa/outbound.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from responsa.outbound import OutboundPolicy
from responsa.tools.base import ToolError, ToolOutcome

LIST_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class McpServer:
    label: str
    url: str
    headers: dict[str, str]
    authorization: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.authorization:
            headers["Authorization"] = f"Bearer {self.authorization}"
        return headers


@dataclass(frozen=True, slots=True)
class McpTool:
    name: str
    description: str | None
    input_schema: dict[str, Any] | None

    def as_item_entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
            "annotations": None,
        }


def _hooks(policy: OutboundPolicy | None) -> dict[str, list[Any]]:
    if policy is None:
        return {}

    async def check(request: Any) -> None:
        await policy.check(str(request.url))

    return {"request": [check]}


@contextlib.asynccontextmanager
async def _session(server: McpServer, timeout: float, policy: OutboundPolicy | None) -> AsyncIterator[Any]:
    # The SDK is imported on first use: it is large, and most servers never see an MCP tool.
    import httpx2
    from mcp import ClientSession
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamable_http_client

    headers = server.request_headers()
    hooks = _hooks(policy)
    if urlparse(server.url).path.rstrip("/").endswith("/sse"):
        from mcp.shared._httpx_utils import create_mcp_http_client

        def guarded(headers: Any = None, timeout: Any = None, auth: Any = None) -> httpx2.AsyncClient:
            client = create_mcp_http_client(headers, timeout, auth)
            client.event_hooks = hooks
            return client

        transport = sse_client(
            server.url,
            headers=headers,
            timeout=timeout,
            sse_read_timeout=timeout,
            httpx_client_factory=guarded,
        )
        async with transport as streams, ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            yield session
        return
    async with (
        httpx2.AsyncClient(
            headers=headers, timeout=timeout, follow_redirects=True, event_hooks=hooks
        ) as http,
        streamable_http_client(server.url, http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        yield session


def _describe(exc: BaseException) -> str:
    """The innermost useful message (transport errors arrive wrapped in exception groups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return text


async def list_tools(server: McpServer, policy: OutboundPolicy | None = None) -> list[McpTool]:
    try:
        async with asyncio.timeout(LIST_TIMEOUT_S), _session(server, LIST_TIMEOUT_S, policy) as session:
            result = await session.list_tools()
    except TimeoutError:
        raise ToolError(
            f"MCP server '{server.label}' did not list its tools within {LIST_TIMEOUT_S:.0f} s."
        ) from None
    except Exception as exc:  # connection refused, HTTP 401, protocol errors ...
        raise ToolError(
            f"Error retrieving tool list from MCP server '{server.label}': {_describe(exc)}"
        ) from None
    return [
        McpTool(tool.name, tool.description, dict(tool.input_schema) if tool.input_schema else None)
        for tool in result.tools
    ]


def _content(result: Any) -> tuple[list[dict[str, Any]], list[str]]:
    parts: list[dict[str, Any]] = []
    texts: list[str] = []
    for block in getattr(result, "content", None) or ():
        if getattr(block, "type", None) == "text":
            parts.append({"type": "text", "text": block.text})
            texts.append(block.text)
        elif getattr(block, "type", None) == "image":
            parts.append(
                {"type": "image_url", "image_url": {"url": f"data:{block.mime_type};base64,{block.data}"}}
            )
            texts.append("<image>")
    return parts, texts


async def call_tool(
    server: McpServer, name: str, arguments: dict[str, Any], policy: OutboundPolicy | None = None
) -> ToolOutcome:
    """Call one tool. Failures become an outcome with `error` (the model is told), not an exception."""
    try:
        async with asyncio.timeout(CALL_TIMEOUT_S), _session(server, CALL_TIMEOUT_S, policy) as session:
            result = await session.call_tool(name, arguments)
    except TimeoutError:
        message = f"MCP tool '{name}' on '{server.label}' did not answer within {CALL_TIMEOUT_S:.0f} s."
        return ToolOutcome(message, error=message)
    except Exception as exc:
        message = f"MCP tool '{name}' on '{server.label}' failed: {_describe(exc)}"
        return ToolOutcome(message, error=message)
    parts, texts = _content(result)
    output = " ".join(texts)
    if getattr(result, "is_error", False):
        return ToolOutcome(
            parts or output or "Tool execution failed", error=output or "Tool execution failed"
        )
    return ToolOutcome(parts or "Tool execution failed", output=output)


class McpClient:
    """How the engine reaches MCP servers: these two calls, through the outbound policy. The
    recording wrapper (`recording/recorder.RecordingMcp`) records and replays them."""

    def __init__(self, policy: OutboundPolicy | None = None) -> None:
        self.policy = policy

    async def list_tools(self, server: McpServer) -> list[McpTool]:
        return await list_tools(server, self.policy)

    async def call_tool(self, server: McpServer, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        return await call_tool(server, name, arguments, self.policy)
