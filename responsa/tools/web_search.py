"""web_search through a pluggable search provider (Tavily first).

    provider = TavilySearch(base_url="https://api.tavily.com", api_key=None)
    result = await provider.search("positive news today", api_key)   # {"query", "top_k": [...]}

The model sees `json.dumps(result)` as the tool message. The key can come from the settings
(`TAVILY_API_KEY`) or per request from the provider-data header (`tavily_search_api_key`).
Calls are recorded and replayed like inference calls (`recording/recorder.py`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any

import httpx2

from responsa.errors import InvalidRequest
from responsa.outbound import OutboundPolicy, OutboundRefused

TOOL_DEFINITION = {
    "type": "function",
    "function": {
        "name": "web_search",
        "description": "Search the web for information",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "The query to search for"}},
            "required": ["query"],
        },
    },
}
TOOL_TYPES = frozenset(
    {"web_search", "web_search_preview", "web_search_preview_2025_03_11", "web_search_2025_08_26"}
)


class SearchError(Exception):
    """The search failed; the model is told and the web_search_call item is marked failed."""


class SearchProvider(ABC):
    name: str

    @abstractmethod
    async def search(self, query: str, api_key: str | None) -> dict[str, Any]:
        """Results for `query` as `{"query": query, "top_k": [...]}`; raises SearchError."""

    def available(self, api_key: str | None) -> bool:
        """Whether a search can run (a key is configured or given with the request); a
        `web_search` tool is offered to the model only then."""
        return True

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        pass


class TavilySearch(SearchProvider):
    name = "tavily"

    def __init__(
        self, base_url: str, api_key: str | None, max_results: int = 3, policy: OutboundPolicy | None = None
    ) -> None:
        self.api_key = api_key
        self.max_results = max_results
        hooks: dict[str, list[Any]] = {}
        if policy is not None:

            async def check(request: httpx2.Request) -> None:
                await policy.check(str(request.url))

            hooks = {"request": [check]}
        self.http = httpx2.AsyncClient(base_url=base_url, timeout=30, event_hooks=hooks)

    def available(self, api_key: str | None) -> bool:
        return bool(api_key or self.api_key)

    async def search(self, query: str, api_key: str | None) -> dict[str, Any]:
        key = api_key or self.api_key
        if not key:
            raise SearchError(
                "No web search API key: set TAVILY_API_KEY, or pass it per request in the header "
                'X-OGX-Provider-Data as {"tavily_search_api_key": "<key>"}.'
            )
        try:
            resp = await self.http.post(
                "/search",
                json={"query": query, "max_results": self.max_results},
                headers={"Authorization": f"Bearer {key}"},
            )
        except httpx2.HTTPError as exc:
            raise SearchError(f"Tavily could not be reached: {exc}") from None
        except OutboundRefused as exc:
            raise SearchError(exc.message) from None
        if resp.status_code != 200:
            raise SearchError(f"Tavily answered {resp.status_code}: {resp.text[:200]}")
        results = resp.json().get("results") or []
        return {"query": query, "top_k": results}

    async def aclose(self) -> None:
        await self.http.aclose()


def query_of(arguments: str) -> str:
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return arguments
    return str(parsed.get("query", "")) if isinstance(parsed, dict) else arguments


def check_tool(tool: dict[str, Any], where: str) -> None:
    size = tool.get("search_context_size")
    if size is not None and size not in ("low", "medium", "high"):
        raise InvalidRequest(
            f"Invalid value for '{where}.search_context_size': expected low, medium or high.",
            param=f"{where}.search_context_size",
        )
