"""Server-run tools inside the loop: MCP listings, approvals, MCP calls, web and file searches.

Each call yields its output item's events and the `tool` message the model sees next.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from responsa import ids
from responsa.context import current_provider_data
from responsa.engine.events import (
    approval_request_events,
    file_search_events,
    mcp_call_events,
    mcp_list_tools_events,
    web_search_events,
)
from responsa.engine.model_call import ServerCall
from responsa.engine.tools import McpRequest, ToolSet
from responsa.store.base import StoredResponse
from responsa.tools import file_search, mcp
from responsa.tools.base import ToolError, ToolOutcome
from responsa.tools.web_search import SearchError, SearchProvider, query_of
from responsa.types import ChatMessage, Event, Item

if TYPE_CHECKING:
    from responsa.vector_stores.service import Found, VectorStores

Decision = Literal["execute", "deny", "ask"]


def _same_arguments(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a or "{}") == json.loads(b or "{}"))
    except json.JSONDecodeError:
        return a == b


@dataclass(slots=True)
class Approvals:
    """Approval requests the client has seen, and its answers to them."""

    requests: list[Item] = field(default_factory=list)
    answers: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def collect(cls, previous: StoredResponse | None, input: str | list[Item]) -> Approvals:
        items: list[Item] = list(previous.response.get("output", [])) if previous is not None else []
        if isinstance(input, list):
            items += input
        approvals = cls()
        for item in items:
            if item.get("type") == "mcp_approval_request":
                approvals.requests.append(item)
            elif item.get("type") == "mcp_approval_response" and isinstance(
                item.get("approval_request_id"), str
            ):
                approvals.answers[item["approval_request_id"]] = bool(item.get("approve"))
        return approvals

    def decide(self, name: str, arguments: str) -> tuple[Decision, str | None]:
        for request in self.requests:
            answer = self.answers.get(str(request.get("id")))
            if answer is None or request.get("name") != name:
                continue
            if _same_arguments(str(request.get("arguments", "")), arguments):
                return ("execute" if answer else "deny"), str(request["id"])
        return "ask", None


def _reusable_listing(request: McpRequest, previous: StoredResponse | None) -> list[mcp.McpTool] | None:
    """The previous response's listing of the same server with the same filter, if any."""
    if previous is None:
        return None
    same = any(
        echo.get("type") == "mcp"
        and echo.get("server_label") == request.server.label
        and echo.get("allowed_tools") == request.spec.get("allowed_tools")
        for echo in previous.response.get("tools", [])
    )
    if not same:
        return None
    for item in previous.response.get("output", []):
        if (
            item.get("type") == "mcp_list_tools"
            and item.get("server_label") == request.server.label
            and not item.get("error")
        ):
            return [
                mcp.McpTool(t["name"], t.get("description"), t.get("input_schema")) for t in item["tools"]
            ]
    return None


@dataclass(frozen=True, slots=True)
class FileSearching:
    """What `file_search` calls of one response search with, and for whom."""

    stores: VectorStores
    owner: str | None  # the caller's scope: only its own stores
    show_results: bool  # `include: ["file_search_call.results"]` (always in the OGX translation)


class ToolRunner:
    def __init__(
        self,
        tools: ToolSet,
        search: SearchProvider | None,
        response: dict[str, Any],
        max_tool_calls: int | None,
        approvals: Approvals,
        mcp_client: mcp.McpClient | None = None,
        files: FileSearching | None = None,
    ) -> None:
        self.mcp = mcp_client or mcp.McpClient()
        self.files = files
        self.citations: dict[str, str] = {}  # file id -> filename of every file found so far
        self.tools = tools
        self.search = search
        self.response = response
        self.max_tool_calls = max_tool_calls
        self.approvals = approvals
        self.executed = 0

    def _add(self, item: Item) -> int:
        self.response["output"].append(item)
        return len(self.response["output"]) - 1

    async def list_mcp(self, previous: StoredResponse | None) -> AsyncIterator[Event]:
        """List every MCP server of the request (reusing the previous response's listings)."""
        reused = [(r, _reusable_listing(r, previous)) for r in self.tools.mcp_requests]
        ordered = [pair for pair in reused if pair[1] is not None] + [
            pair for pair in reused if pair[1] is None
        ]
        for request, listing in ordered:
            item: Item = {
                "id": ids.item_id("mcpl", self.response["id"]),
                "type": "mcp_list_tools",
                "server_label": request.server.label,
                "tools": [],
                "error": None,
            }
            failure: ToolError | None = None
            try:
                tools = listing if listing is not None else await self.mcp.list_tools(request.server)
            except ToolError as exc:
                failure, tools = exc, []
                item["error"] = exc.message
            if request.allowed is not None:  # only the allowed tools are imported
                tools = [tool for tool in tools if tool.name in request.allowed]
            item["tools"] = [tool.as_item_entry() for tool in tools]
            for event in mcp_list_tools_events(self._add(item), item, failure is not None):
                yield event
            if failure is not None:
                raise failure
            self.tools.add_mcp_listing(request, tools, reused=listing is not None)

    def decide(self, call: ServerCall) -> tuple[Decision, str | None]:
        binding = self.tools.mcp.get(call.name)
        if call.kind != "mcp" or binding is None or not binding.approval:
            return "execute", None
        return self.approvals.decide(call.name, call.arguments)

    def ask(self, call: ServerCall) -> list[Event]:
        binding = self.tools.mcp[call.name]
        item: Item = {
            "id": ids.item_id("mcpr", self.response["id"]),
            "type": "mcp_approval_request",
            "name": call.name,
            "arguments": call.arguments or "{}",
            "server_label": binding.server.label,
        }
        return approval_request_events(self._add(item), item)

    async def run(self, call: ServerCall, approval_id: str | None) -> tuple[list[Event], ChatMessage]:
        if self.max_tool_calls is not None and self.executed >= self.max_tool_calls:
            notice = f"Tool call skipped: maximum tool calls limit ({self.max_tool_calls}) reached."
            return [], {"role": "tool", "tool_call_id": call.call_id, "content": notice}
        self.executed += 1
        if call.kind == "web_search":
            return await self._web_search(call)
        if call.kind == "file_search":
            return await self._file_search(call)
        return await self._mcp_call(call, approval_id)

    async def _mcp_call(self, call: ServerCall, approval_id: str | None) -> tuple[list[Event], ChatMessage]:
        binding = self.tools.mcp[call.name]
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            message = f"The arguments for '{call.name}' are not a JSON object: {call.arguments!r}"
            outcome = ToolOutcome(message, error=message)
        else:
            outcome = await self.mcp.call_tool(binding.server, call.name, arguments)
        item: Item = {
            "id": ids.item_id("mcp", self.response["id"]),
            "type": "mcp_call",
            "server_label": binding.server.label,
            "name": call.name,
            "arguments": call.arguments or "{}",
            "output": outcome.output,
            "error": outcome.error,
            "approval_request_id": approval_id,
            "status": "failed" if outcome.error else "completed",
        }
        events = mcp_call_events(self._add(item), item)
        return events, {"role": "tool", "tool_call_id": call.call_id, "content": outcome.content}

    async def _web_search(self, call: ServerCall) -> tuple[list[Event], ChatMessage]:
        query = query_of(call.arguments)
        item: Item = {
            "id": ids.item_id("ws", self.response["id"]),
            "type": "web_search_call",
            "status": "completed",
            "action": {"type": "search", "query": query},
        }
        key = (current_provider_data.get() or {}).get("tavily_search_api_key")
        try:
            if self.search is None:
                raise SearchError("No web search provider is configured.")
            result = await self.search.search(query, key if isinstance(key, str) else None)
            content = json.dumps(result)
        except SearchError as exc:
            item["status"] = "failed"
            content = str(exc)
        events = web_search_events(self._add(item), item)
        return events, {"role": "tool", "tool_call_id": call.call_id, "content": content}

    async def _file_search(self, call: ServerCall) -> tuple[list[Event], ChatMessage]:
        query = query_of(call.arguments)
        item: Item = {
            "id": ids.item_id("fs", self.response["id"]),
            "type": "file_search_call",
            "status": "completed",
            "queries": [query],
            "results": None,
        }
        spec = self.tools.file_search
        content: str | list[dict[str, Any]]
        found: list[Found] = []
        error: str | None = "file_search is not available on this server."
        if spec is not None and self.files is not None:
            found, error = await spec.run(self.files.stores, query, self.files.owner)
        if error is not None:
            item["status"], content = "failed", error
        else:
            content = file_search.tool_message(query, found)
            self.citations.update((hit.file_id, hit.filename) for hit in found)
            if self.files is not None and self.files.show_results:
                item["results"] = file_search.result_entries(found)
        events = file_search_events(self._add(item), item)
        return events, {"role": "tool", "tool_call_id": call.call_id, "content": content}
