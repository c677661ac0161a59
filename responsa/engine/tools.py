"""The request's tools: checked before streaming, turned into upstream function tools, and
used to classify the model's calls.

    tools = ToolSet.from_request(req.tools, req.tool_choice)     # 400s happen here
    ... MCP servers are listed while streaming (events), then:
    tools.add_mcp_listing(server, listed_tools)
    tools.apply(body)                                             # tools / tool_choice keys

Client `function` tools become `{"type": "function", "function": <request tool minus nulls>}`;
MCP tools and `web_search` become plain function tools (no nested `type`), SPEC §3. A call whose
name is a function tool (or unknown) goes back to the client as a `function_call` item; MCP and
web_search calls run on the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from responsa.errors import InvalidRequest
from responsa.tools import web_search
from responsa.tools.mcp import McpServer, McpTool

ToolChoice = str | dict[str, Any] | None
CallKind = Literal["function", "mcp", "web_search"]


@dataclass(frozen=True, slots=True)
class McpBinding:
    server: McpServer
    tool: McpTool
    approval: bool  # the call waits for the client's approval


@dataclass(slots=True)
class McpRequest:
    """One `mcp` entry of the request, before its server is listed."""

    index: int
    server: McpServer
    allowed: list[str] | None
    require_approval: Any
    spec: dict[str, Any]

    def needs_approval(self, name: str) -> bool:
        rule = self.require_approval
        if rule in (None, "never"):
            return False
        if rule == "always":
            return True
        if isinstance(rule, dict):
            never = (rule.get("never") or {}).get("tool_names") or []
            always = (rule.get("always") or {}).get("tool_names") or []
            if name in always:
                return True
            return name not in never
        return True


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


def _mcp_request(index: int, tool: dict[str, Any], where: str) -> McpRequest:
    label = tool.get("server_label")
    if not isinstance(label, str) or not label:
        raise InvalidRequest(
            f"Missing required parameter: '{where}.server_label'.", param=f"{where}.server_label"
        )
    url = tool.get("server_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        if tool.get("connector_id"):
            raise InvalidRequest(
                f"'{where}.connector_id': connectors are not supported; give 'server_url'.",
                param=f"{where}.connector_id",
            )
        raise InvalidRequest(
            f"Missing required parameter: '{where}.server_url' (an http(s) URL).", param=f"{where}.server_url"
        )
    headers = tool.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise InvalidRequest(
            f"Invalid type for '{where}.headers': expected an object of strings.", param=f"{where}.headers"
        )
    if any(key.lower() == "authorization" for key in headers):
        raise InvalidRequest(
            f"Invalid value for '{where}.headers': do not send credentials in 'headers'; "
            "use the 'authorization' field of the mcp tool.",
            param=f"{where}.headers",
        )
    authorization = tool.get("authorization")
    if authorization is not None and not isinstance(authorization, str):
        raise InvalidRequest(
            f"Invalid type for '{where}.authorization': expected a string.", param=f"{where}.authorization"
        )
    allowed = tool.get("allowed_tools")
    if isinstance(allowed, dict):
        allowed = allowed.get("tool_names")
    if allowed is not None and not (isinstance(allowed, list) and all(isinstance(n, str) for n in allowed)):
        raise InvalidRequest(
            f"Invalid type for '{where}.allowed_tools': expected a list of tool names.",
            param=f"{where}.allowed_tools",
        )
    approval = tool.get("require_approval", "never")
    if not (approval in ("always", "never", None) or isinstance(approval, dict)):
        raise InvalidRequest(
            f"Invalid value for '{where}.require_approval': expected 'always', 'never' or a filter.",
            param=f"{where}.require_approval",
        )
    return McpRequest(index, McpServer(label, url, headers, authorization), allowed, approval, tool)


def _echo(tool: dict[str, Any]) -> dict[str, Any]:
    kind = tool["type"]
    if kind == "function":
        return {
            "type": "function",
            "name": tool["name"],
            "description": tool.get("description"),
            "parameters": tool.get("parameters"),
            "strict": tool.get("strict"),
        }
    if kind == "mcp":  # never echo headers or the authorization token
        return {
            "type": "mcp",
            "server_label": tool["server_label"],
            "server_url": tool.get("server_url"),
            "allowed_tools": tool.get("allowed_tools"),
            "require_approval": tool.get("require_approval", "never"),
            "headers": None,
            "server_description": tool.get("server_description"),
        }
    return {
        "type": kind,
        "search_context_size": tool.get("search_context_size") or "medium",
        "user_location": tool.get("user_location"),
    }


@dataclass(slots=True)
class ToolSet:
    given: bool  # the request had a `tools` array (even an empty one)
    choice: ToolChoice
    echo: list[dict[str, Any]]
    entries: list[tuple[int, list[dict[str, Any]]]] = field(
        default_factory=list
    )  # (request index, upstream tools)
    functions: set[str] = field(default_factory=set)
    mcp_requests: list[McpRequest] = field(default_factory=list)
    mcp: dict[str, McpBinding] = field(default_factory=dict)
    mcp_labels: dict[str, list[str]] = field(default_factory=dict)  # server label -> its tool names
    web_search: bool = False
    reused_first: list[str] = field(default_factory=list)  # labels whose listing was reused

    @classmethod
    def from_request(cls, tools: list[dict[str, Any]] | None, choice: ToolChoice) -> ToolSet:
        if not tools:
            if isinstance(choice, dict) or choice == "required":
                raise InvalidRequest(
                    "Invalid value for 'tool_choice': there are no 'tools' to choose from.",
                    param="tool_choice",
                )
            return cls(tools is not None, None, [])
        toolset = cls(True, choice, [])
        for i, tool in enumerate(tools):
            where = f"tools[{i}]"
            kind = tool.get("type")
            if kind == "function":
                entry = _function_tool(tool, where)
                toolset.functions.add(entry["function"]["name"])
                toolset.entries.append((i, [entry]))
            elif kind == "mcp":
                request = _mcp_request(i, tool, where)
                if any(r.server.label == request.server.label for r in toolset.mcp_requests):
                    raise InvalidRequest(
                        f"Invalid value for '{where}.server_label': labels must be unique.",
                        param=f"{where}.server_label",
                    )
                toolset.mcp_requests.append(request)
            elif kind in web_search.TOOL_TYPES:
                web_search.check_tool(tool, where)
                toolset.web_search = True
                toolset.entries.append((i, [web_search.TOOL_DEFINITION]))
            else:
                raise InvalidRequest(
                    f"Invalid value for '{where}.type': tool type {kind!r} is not supported by this server "
                    "(supported: function, mcp, web_search).",
                    param=f"{where}.type",
                )
            toolset.echo.append(_echo(tool))
        toolset._check_choice()
        return toolset

    def _check_choice(self) -> None:
        choice = self.choice
        if choice is None or choice in ("auto", "none", "required"):
            return
        if isinstance(choice, dict) and choice.get("type") in (
            "function",
            "mcp",
            "allowed_tools",
            *web_search.TOOL_TYPES,
        ):
            if (
                choice["type"] == "function"
                and not self.mcp_requests
                and choice.get("name") not in self.functions
            ):
                raise InvalidRequest(
                    f"Invalid value for 'tool_choice': tool {choice.get('name')!r} is not in 'tools'.",
                    param="tool_choice",
                )
            if choice["type"] == "allowed_tools":
                if choice.get("mode", "auto") not in ("auto", "required"):
                    raise InvalidRequest(
                        "Invalid value for 'tool_choice.mode': expected 'auto' or 'required'.",
                        param="tool_choice.mode",
                    )
                if not isinstance(choice.get("tools"), list):
                    raise InvalidRequest(
                        "Missing required parameter: 'tool_choice.tools'.", param="tool_choice.tools"
                    )
            return
        raise InvalidRequest(
            "Invalid value for 'tool_choice': expected 'none', 'auto', 'required', or an object naming a "
            "function, an mcp server, web_search or allowed_tools.",
            param="tool_choice",
        )

    def add_mcp_listing(self, request: McpRequest, listed: list[McpTool], reused: bool = False) -> None:
        """Offer a listed server's tools upstream; `listed` is already cut to `allowed_tools`
        (by `ToolRunner.list_mcp`, whose listing item shows the same tools)."""
        names: list[str] = []
        upstream: list[dict[str, Any]] = []
        for tool in listed:
            if tool.name in self.mcp or tool.name in self.functions:
                raise InvalidRequest(
                    f"Tool name '{tool.name}' is offered twice (MCP server '{request.server.label}').",
                    param="tools",
                )
            function: dict[str, Any] = {"name": tool.name}
            if tool.description:
                function["description"] = tool.description
            if tool.input_schema:
                function["parameters"] = tool.input_schema
            elif reused:
                function["parameters"] = {"type": "object", "properties": {}, "required": []}
            upstream.append({"type": "function", "function": function})
            self.mcp[tool.name] = McpBinding(request.server, tool, request.needs_approval(tool.name))
            names.append(tool.name)
        self.mcp_labels[request.server.label] = names
        # Reused listings go first upstream, as the recordings this must match were made.
        self.entries.append((-1 - len(self.reused_first) if reused else request.index, upstream))
        if reused:
            self.reused_first.append(request.server.label)

    def classify(self, name: str) -> CallKind:
        if name in self.functions:
            return "function"
        if name in self.mcp:
            return "mcp"
        if name == "web_search" and self.web_search:
            return "web_search"
        return "function"  # an unknown name goes back to the client, who can say it is unknown

    def _all(self) -> list[dict[str, Any]]:
        return [tool for _, group in sorted(self.entries, key=lambda e: e[0]) for tool in group]

    def _choice_and_tools(self) -> tuple[ToolChoice, list[dict[str, Any]]]:
        tools = self._all()
        names = {t["function"]["name"] for t in tools}
        choice = self.choice
        if choice is None or isinstance(choice, str):
            return choice, tools
        kind = choice.get("type")
        if kind == "function" or (kind == "mcp" and choice.get("name")):
            name = choice.get("name")
            if name not in names:
                raise InvalidRequest(
                    f"Invalid value for 'tool_choice': tool {name!r} is not in 'tools'.", param="tool_choice"
                )
            return {"type": "function", "function": {"name": name}}, tools
        if kind == "mcp":
            own = set(self.mcp_labels.get(str(choice.get("server_label")), []))
            kept = [t for t in tools if t["function"]["name"] in own]
            return ("required" if kept else None), kept
        if kind in web_search.TOOL_TYPES:
            return (
                {"type": "function", "function": {"name": "web_search"}} if "web_search" in names else None
            ), tools
        allowed: set[str] = set()
        for entry in choice.get("tools") or ():
            if entry.get("type") == "function":
                allowed.add(entry.get("name"))
            elif entry.get("type") == "mcp":
                allowed.update(entry.get("tool_names") or self.mcp_labels.get(entry.get("server_label"), []))
            elif entry.get("type") in web_search.TOOL_TYPES:
                allowed.add("web_search")
        return choice.get("mode", "auto"), [t for t in tools if t["function"]["name"] in allowed]

    def apply(self, body: dict[str, Any], parallel: bool | None, first_iteration: bool) -> None:
        """Set the `tools`, `tool_choice` and `parallel_tool_calls` keys of an upstream body."""
        for key in ("tools", "tool_choice", "parallel_tool_calls"):
            body.pop(key, None)
        if not self.given:
            return
        choice, tools = self._choice_and_tools()
        if tools and parallel is not None:
            body["parallel_tool_calls"] = parallel
        if choice == "none":
            return  # the model may not call tools: send neither tools nor a choice
        if choice is not None and tools:
            body["tool_choice"] = choice if first_iteration else "auto"
        body["tools"] = tools
