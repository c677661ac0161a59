"""Tool definitions and `tool_choice` in the request, as the upstream expects them.

Client function tools are forwarded as Chat Completions function tools (the whole request tool
minus nulls under `function`, SPEC §3); the model's calls come back to the client as
`function_call` items. Server-run tools (MCP, web search, file search) are not offered yet and
are refused with a 400 naming the tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from responsa.errors import InvalidRequest

ToolChoice = str | dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class UpstreamTools:
    tools: list[dict[str, Any]] | None  # None: the request had no tools
    tool_choice: ToolChoice
    echo: list[dict[str, Any]]  # the request's tools as the Response object shows them


def _function_tool(tool: dict[str, Any], where: str) -> dict[str, Any]:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"Missing required parameter: '{where}.name'.", param=f"{where}.name")
    parameters = tool.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidRequest(
            f"Invalid type for '{where}.parameters': expected a JSON schema object.",
            param=f"{where}.parameters",
        )
    return {"type": "function", "function": {k: v for k, v in tool.items() if v is not None}}


def _echo(tool: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "name": tool["name"],
        "description": tool.get("description"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict"),
    }


def _named(choice: dict[str, Any], names: set[str]) -> dict[str, Any]:
    name = choice.get("name")
    if name not in names:
        raise InvalidRequest(
            f"Invalid value for 'tool_choice': tool {name!r} is not in 'tools'.", param="tool_choice"
        )
    return {"type": "function", "function": {"name": name}}


def _allowed(choice: dict[str, Any], tools: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    mode = choice.get("mode", "auto")
    if mode not in ("auto", "required"):
        raise InvalidRequest(
            "Invalid value for 'tool_choice.mode': expected 'auto' or 'required'.", param="tool_choice.mode"
        )
    listed = choice.get("tools")
    if not isinstance(listed, list):
        raise InvalidRequest("Missing required parameter: 'tool_choice.tools'.", param="tool_choice.tools")
    allowed = {t.get("name") for t in listed if isinstance(t, dict) and t.get("type") == "function"}
    return [t for t in tools if t["function"]["name"] in allowed], mode


def translate_tools(tools: list[dict[str, Any]] | None, tool_choice: ToolChoice) -> UpstreamTools:
    if not tools:
        if isinstance(tool_choice, dict) or tool_choice == "required":
            raise InvalidRequest(
                "Invalid value for 'tool_choice': there are no 'tools' to choose from.", param="tool_choice"
            )
        return UpstreamTools(None if tools is None else [], None, [])
    upstream: list[dict[str, Any]] = []
    echo: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        kind = tool.get("type")
        if kind != "function":
            raise InvalidRequest(
                f"Invalid value for '{where}.type': tool type {kind!r} is not supported by this server yet "
                "(supported: 'function').",
                param=f"{where}.type",
            )
        upstream.append(_function_tool(tool, where))
        echo.append(_echo(tool))
    names = {t["function"]["name"] for t in upstream}

    choice: ToolChoice
    if tool_choice is None or tool_choice in ("auto", "none", "required"):
        choice = tool_choice
    elif isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        choice = _named(tool_choice, names)
    elif isinstance(tool_choice, dict) and tool_choice.get("type") == "allowed_tools":
        upstream, choice = _allowed(tool_choice, upstream)
    else:
        raise InvalidRequest(
            "Invalid value for 'tool_choice': expected 'none', 'auto', 'required', "
            "{'type': 'function', 'name': ...} or {'type': 'allowed_tools', ...}.",
            param="tool_choice",
        )
    return UpstreamTools(upstream, choice, echo)
