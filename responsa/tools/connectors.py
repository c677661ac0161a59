"""Connectors: MCP servers the operator names in the config, used by id.

    connectors:
      crm: {url: https://mcp.internal.example/mcp, server_label: crm,
            headers: {X-Team: sales}, authorization: ${CRM_MCP_TOKEN}}

A request then says `{"type": "mcp", "server_label": "crm", "connector_id": "crm"}` (no
`server_url`): the server resolves the URL, the headers and the bearer token itself, so the
credentials never leave it — `GET /v1/connectors` (`api/connectors.py`) lists the connectors
without them, and the response echoes only the id. The reference server's config form, a list
of `{connector_id, url, server_label}`, is read too (`config.py`). A connector's host is the
operator's choice, so it is allowed by the outbound policy as if listed in `outbound.allow`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from responsa.config import ConnectorConfig
from responsa.errors import InvalidRequest, NotFound
from responsa.tools.mcp import McpServer


class Connectors:
    def __init__(self, configured: Mapping[str, ConnectorConfig]) -> None:
        self.configured = dict(configured)

    def __bool__(self) -> bool:
        return bool(self.configured)

    def get(self, connector_id: str) -> ConnectorConfig:
        found = self.configured.get(connector_id)
        if found is None:
            raise NotFound(f"No connector found with id '{connector_id}'.", param="connector_id")
        return found

    def server(
        self,
        connector_id: str,
        where: str,
        label: str | None,
        headers: dict[str, str],
        authorization: str | None,
    ) -> McpServer:
        """The MCP server a tool's `connector_id` names: the connector's URL, headers and token,
        the request's own headers and token added over them."""
        connector = self.configured.get(connector_id)
        if connector is None:
            known = ", ".join(sorted(self.configured)) or "none is configured"
            raise InvalidRequest(
                f"Invalid value for '{where}.connector_id': no connector '{connector_id}' "
                f"(GET /v1/connectors lists them; {known}).",
                param=f"{where}.connector_id",
            )
        return McpServer(
            label or connector.server_label or connector_id,
            connector.url,
            {**connector.headers, **headers},
            authorization or connector.authorization,
        )

    def allowed_hosts(self) -> list[str]:
        """`host:port` of every connector, for the outbound policy's allow-list."""
        hosts = []
        for connector in self.configured.values():
            parts = urlsplit(connector.url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            if parts.hostname:
                hosts.append(f"{parts.hostname}:{port}")
        return hosts

    def shown(self, connector_id: str) -> dict[str, Any]:
        """One connector as `GET /v1/connectors` shows it (the reference server's shape); its
        headers and token stay here."""
        connector = self.get(connector_id)
        return {
            "connector_type": "mcp",
            "connector_id": connector_id,
            "url": connector.url,
            "server_label": connector.server_label,
            "server_name": None,
            "server_description": connector.description,
            "server_version": None,
        }

    def listed(self) -> dict[str, Any]:
        return {"object": "list", "data": [self.shown(c) for c in sorted(self.configured)]}
