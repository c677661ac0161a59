"""What a server-run tool gives back: the tool message for the model, and the fields of its
output item. Implementations sit beside this file (`mcp.py`, `web_search.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from responsa.errors import ResponsaError


@dataclass(slots=True)
class ToolOutcome:
    content: str | list[dict[str, Any]]  # the `tool` message content sent upstream
    output: str | None = None  # what the output item shows
    error: str | None = None  # set when the call failed (the model still sees `content`)


class ToolError(ResponsaError):
    """A tool server could not be used at all (listing MCP tools failed, ...): 424, as OpenAI."""

    status_code = 424
    error_type = "external_connector_error"
    default_code = "tool_server_error"
