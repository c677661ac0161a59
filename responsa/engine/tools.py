"""The request's tools: checked before streaming, turned into upstream tools, and used to
classify the model's calls.

    tools = ToolSet.from_request(req.tools, req.tool_choice, options)   # 400s happen here
    ... MCP servers are listed while streaming (events), then:
    tools.add_mcp_listing(server, listed_tools)
    tools.apply(body)                                             # tools / tool_choice keys

Client tools: `function` tools become `{"type": "function", "function": {...}}`; `custom` tools
become the Chat API's `custom` type where the provider supports it, else a function with one
string parameter `input`; `namespace` tools are flattened (`<namespace>__<name>`); a client
`tool_search` is a function the client answers; tools marked `defer_loading` wait until a
`tool_search_output` loads them; `additional_tools` input items add tools. MCP tools,
`web_search` and `file_search` become plain function tools run on the server (SPEC §3). A
hosted tool the server cannot run (`image_generation`, or `web_search` with no search provider or with
`external_web_access: false`) is left out of the upstream tools, and the log says so once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from responsa.engine.items.calls import TOOL_SEARCH, flat_name
from responsa.errors import InvalidRequest
from responsa.tools import file_search, web_search
from responsa.tools.connectors import Connectors
from responsa.tools.file_search import FileSearchSpec
from responsa.tools.mcp import McpServer, McpTool

log = logging.getLogger("responsa.engine")

ToolChoice = str | dict[str, Any] | None
CallKind = Literal["function", "custom", "tool_search", "mcp", "web_search", "file_search"]
# Keys of a Responses function tool that Chat Completions does not define.
RESPONSES_ONLY_KEYS = frozenset({"defer_loading", "allowed_callers", "output_schema", "async"})
TOOL_SEARCH_DEFINITION = {
    "name": TOOL_SEARCH,
    "description": "Search for more tools and load them for the next step.",
    "parameters": {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "What the tools should do"}},
        "required": ["query"],
    },
}
_warned: set[str] = set()


def _warn_once(reason: str) -> None:
    if reason not in _warned:
        _warned.add(reason)
        log.warning("%s", reason)


@dataclass(frozen=True, slots=True)
class Target:
    """What a tool call by an upstream name stands for."""

    kind: CallKind
    name: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class ToolOptions:
    faithful: bool = True
    custom_native: bool = False
    search_available: bool = True
    connectors: Connectors | None = None  # the MCP servers the config names


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
    connector: bool = False  # the server is a configured connector (`tools/connectors.py`)

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


def _name(tool: dict[str, Any], where: str) -> str:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"Missing required parameter: '{where}.name'.", param=f"{where}.name")
    return name


def _function_tool(tool: dict[str, Any], where: str, faithful: bool, name: str) -> dict[str, Any]:
    parameters = tool.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidRequest(
            f"Invalid type for '{where}.parameters': expected a JSON schema object.",
            param=f"{where}.parameters",
        )
    if faithful:
        function = {k: tool[k] for k in ("description", "parameters", "strict") if tool.get(k) is not None}
        return {"type": "function", "function": {"name": name, **function}}
    # The reference server's form: the whole tool minus nulls, its nested "type" included.
    kept = {k: v for k, v in tool.items() if v is not None and k not in RESPONSES_ONLY_KEYS}
    return {"type": "function", "function": {**kept, "name": name}}


def _grammar_note(fmt: Any, where: str) -> str:
    if fmt is None or (isinstance(fmt, dict) and fmt.get("type") == "text"):
        return ""
    if not (isinstance(fmt, dict) and fmt.get("type") == "grammar"):
        raise InvalidRequest(
            f"Invalid value for '{where}.format': expected {{'type': 'text'}} or a grammar.",
            param=f"{where}.format",
        )
    syntax, definition = fmt.get("syntax"), fmt.get("definition")
    if syntax not in ("lark", "regex") or not isinstance(definition, str):
        raise InvalidRequest(
            f"Invalid value for '{where}.format': a grammar needs 'syntax' (lark or regex) "
            "and a 'definition'.",
            param=f"{where}.format",
        )
    if syntax == "regex":
        try:
            re.compile(definition)
        except re.error as exc:
            raise InvalidRequest(
                f"Invalid value for '{where}.format.definition': not a valid regular expression ({exc}).",
                param=f"{where}.format.definition",
            ) from None
    return f"The input must match this {syntax} grammar:\n{definition}"


def _custom_tool(tool: dict[str, Any], where: str, native: bool, name: str) -> dict[str, Any]:
    note = _grammar_note(tool.get("format"), where)
    if native:
        custom = {k: tool[k] for k in ("description", "format") if tool.get(k) is not None}
        return {"type": "custom", "custom": {"name": name, **custom}}
    description = "\n\n".join(part for part in (tool.get("description"), note) if part)
    function: dict[str, Any] = {"name": name}
    if description:
        function["description"] = description
    function["parameters"] = {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The tool's whole input, as raw text."}},
        "required": ["input"],
        "additionalProperties": False,
    }
    return {"type": "function", "function": function}


def upstream_name(tool: dict[str, Any]) -> str:
    return str((tool.get("function") or tool.get("custom") or {}).get("name"))


def _mcp_request(index: int, tool: dict[str, Any], where: str, connectors: Connectors | None) -> McpRequest:
    label = tool.get("server_label")
    connector_id = tool.get("connector_id")
    url = tool.get("server_url")
    if connector_id is not None and url is None:  # resolved from the config below
        if not isinstance(connector_id, str) or not connector_id:
            raise InvalidRequest(
                f"Invalid type for '{where}.connector_id': expected a string.", param=f"{where}.connector_id"
            )
        if label is not None and (not isinstance(label, str) or not label):
            raise InvalidRequest(
                f"Invalid value for '{where}.server_label': expected a string.", param=f"{where}.server_label"
            )
    else:
        if not isinstance(label, str) or not label:
            raise InvalidRequest(
                f"Missing required parameter: '{where}.server_label'.", param=f"{where}.server_label"
            )
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidRequest(
                f"Missing required parameter: '{where}.server_url' (an http(s) URL) or "
                f"'{where}.connector_id'.",
                param=f"{where}.server_url",
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
    if connector_id is not None and url is None:
        server = (connectors or Connectors({})).server(connector_id, where, label, headers, authorization)
    else:
        server = McpServer(str(label), str(url), headers, authorization)
    return McpRequest(
        index, server, allowed, approval, tool, connector=connector_id is not None and url is None
    )


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
        echoed = {
            "type": "mcp",
            "server_label": tool.get("server_label"),
            "server_url": tool.get("server_url"),
            "allowed_tools": tool.get("allowed_tools"),
            "require_approval": tool.get("require_approval", "never"),
            "headers": None,
            "server_description": tool.get("server_description"),
        }
        if tool.get("connector_id") is not None:
            echoed["connector_id"] = tool["connector_id"]
        return echoed
    if kind == file_search.TOOL_TYPE:
        return file_search.echo(tool)
    if kind in web_search.TOOL_TYPES:
        return {
            "type": kind,
            "search_context_size": tool.get("search_context_size") or "medium",
            "user_location": tool.get("user_location"),
        }
    return dict(tool)


@dataclass(slots=True)
class ToolSet:
    given: bool  # the request had a `tools` array (even an empty one), or items carried tools
    choice: ToolChoice
    echo: list[dict[str, Any]]
    options: ToolOptions = field(default_factory=ToolOptions)
    entries: list[tuple[int, list[dict[str, Any]]]] = field(
        default_factory=list
    )  # (request index, upstream tools)
    targets: dict[str, Target] = field(default_factory=dict)  # upstream name -> what a call means
    deferred: dict[str, tuple[int, dict[str, Any], Target]] = field(default_factory=dict)
    mcp_requests: list[McpRequest] = field(default_factory=list)
    mcp: dict[str, McpBinding] = field(default_factory=dict)
    mcp_labels: dict[str, list[str]] = field(default_factory=dict)  # server label -> its tool names
    web_search: bool = False
    file_search: FileSearchSpec | None = None
    reused_first: list[str] = field(default_factory=list)  # labels whose listing was reused

    @classmethod
    def from_request(
        cls,
        tools: list[dict[str, Any]] | None,
        choice: ToolChoice,
        options: ToolOptions | None = None,
        carried: list[tuple[str, list[dict[str, Any]]]] | None = None,
    ) -> ToolSet:
        options = options or ToolOptions()
        if not tools and not carried:
            if isinstance(choice, dict) or choice == "required":
                raise InvalidRequest(
                    "Invalid value for 'tool_choice': there are no 'tools' to choose from.",
                    param="tool_choice",
                )
            return cls(tools is not None, None, [], options)
        toolset = cls(True, choice, [], options)
        for i, tool in enumerate(tools or ()):
            toolset._add(i, tool, f"tools[{i}]")
            echoed = _echo(tool)
            if echoed["type"] == "mcp":  # a connector's label may come from the config
                echoed["server_label"] = toolset.mcp_requests[-1].server.label
            toolset.echo.append(echoed)
        offset = len(tools or ())
        for where, group in carried or ():
            for j, tool in enumerate(group):
                toolset._add(offset, tool, f"{where}[{j}]", carried=True)
                offset += 1
        toolset._check_choice()
        return toolset

    def _offer(self, index: int, upstream: dict[str, Any], target: Target, deferred: bool) -> None:
        name = upstream_name(upstream)
        if deferred:
            self.deferred[name] = (index, upstream, target)
            return
        if name in self.targets:
            return  # offered already (a tool search loading a tool the request has)
        self.deferred.pop(name, None)
        self.targets[name] = target
        self.entries.append((index, [upstream]))

    def _add(self, i: int, tool: dict[str, Any], where: str, carried: bool = False) -> None:
        if not isinstance(tool, dict):
            raise InvalidRequest(f"Invalid type for '{where}': expected an object.", param=where)
        kind = tool.get("type")
        if not isinstance(kind, str):
            raise InvalidRequest(
                f"Invalid type for '{where}.type': expected a string.", param=f"{where}.type"
            )
        deferred = bool(tool.get("defer_loading")) and not carried
        if kind in ("function", "custom"):
            self._client_tool(i, tool, where, None, deferred)
        elif kind == "namespace":
            namespace = _name(tool, where)
            inner = tool.get("tools")
            if not isinstance(inner, list):
                raise InvalidRequest(f"Missing required parameter: '{where}.tools'.", param=f"{where}.tools")
            for j, member in enumerate(inner):
                member_where = f"{where}.tools[{j}]"
                if not isinstance(member, dict) or member.get("type") not in ("function", "custom"):
                    raise InvalidRequest(
                        f"Invalid value for '{member_where}.type': a namespace holds function "
                        "and custom tools.",
                        param=f"{member_where}.type",
                    )
                self._client_tool(
                    i,
                    member,
                    member_where,
                    namespace,
                    deferred or (bool(member.get("defer_loading")) and not carried),
                )
        elif kind == "tool_search":
            if tool.get("execution") != "client":
                raise InvalidRequest(
                    f"Invalid value for '{where}.execution': only client-executed tool search "
                    "(execution: 'client') is supported.",
                    param=f"{where}.execution",
                )
            function = {
                "name": TOOL_SEARCH,
                "description": tool.get("description") or TOOL_SEARCH_DEFINITION["description"],
                "parameters": tool.get("parameters") or TOOL_SEARCH_DEFINITION["parameters"],
            }
            self._offer(
                i, {"type": "function", "function": function}, Target("tool_search", TOOL_SEARCH), False
            )
        elif kind == "mcp":
            request = _mcp_request(i, tool, where, self.options.connectors)
            if any(r.server.label == request.server.label for r in self.mcp_requests):
                raise InvalidRequest(
                    f"Invalid value for '{where}.server_label': labels must be unique.",
                    param=f"{where}.server_label",
                )
            self.mcp_requests.append(request)
        elif kind in web_search.TOOL_TYPES:
            web_search.check_tool(tool, where)
            if tool.get("external_web_access") is False:
                _warn_once("web_search with external_web_access false: the tool is not offered to the model")
            elif not self.options.search_available:
                _warn_once(
                    "web_search requested but no search provider is configured (set TAVILY_API_KEY): "
                    "the tool is not offered to the model"
                )
            else:
                self.web_search = True
                self._offer(i, web_search.TOOL_DEFINITION, Target("web_search", "web_search"), False)
        elif kind == file_search.TOOL_TYPE:
            if self.file_search is not None:
                raise InvalidRequest(
                    f"Invalid value for '{where}.type': give one file_search tool (it can search "
                    "several vector stores).",
                    param=f"{where}.type",
                )
            # The reference server searches by vector only; OpenAI's file_search is hybrid.
            mode = "hybrid" if self.options.faithful else "vector"
            self.file_search = FileSearchSpec.parse(tool, where, mode)
            self._offer(i, file_search.TOOL_DEFINITION, Target("file_search", file_search.NAME), False)
        elif kind == "image_generation":
            _warn_once(
                "image_generation requested: this server cannot generate images; the tool is not offered"
            )
        else:
            raise InvalidRequest(
                f"Invalid value for '{where}.type': tool type {kind!r} is not supported by this server "
                "(supported: function, custom, namespace, tool_search, mcp, web_search, file_search).",
                param=f"{where}.type",
            )

    def _client_tool(
        self, i: int, tool: dict[str, Any], where: str, namespace: str | None, deferred: bool
    ) -> None:
        name = _name(tool, where)
        upstream = flat_name(name, namespace)
        if tool["type"] == "function":
            entry = _function_tool(tool, where, self.options.faithful, upstream)
            self._offer(i, entry, Target("function", name, namespace), deferred)
        else:
            entry = _custom_tool(tool, where, self.options.custom_native, upstream)
            self._offer(i, entry, Target("custom", name, namespace), deferred)

    def _check_choice(self) -> None:
        choice = self.choice
        if choice is None or choice in ("auto", "none", "required"):
            return
        if isinstance(choice, dict) and choice.get("type") in (
            "function",
            "custom",
            "mcp",
            "allowed_tools",
            file_search.TOOL_TYPE,
            *web_search.TOOL_TYPES,
        ):
            if (
                choice["type"] in ("function", "custom")
                and not self.mcp_requests
                and self.targets.get(str(choice.get("name")), Target("mcp", "")).kind != choice["type"]
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
                entries = choice.get("tools")
                if not isinstance(entries, list):
                    raise InvalidRequest(
                        "Missing required parameter: 'tool_choice.tools'.", param="tool_choice.tools"
                    )
                for i, entry in enumerate(entries):
                    names = [entry.get("name"), entry.get("server_label")] if isinstance(entry, dict) else [0]
                    names += list(entry.get("tool_names") or []) if isinstance(entry, dict) else []
                    if not all(n is None or isinstance(n, str) for n in names):
                        raise InvalidRequest(
                            f"Invalid value for 'tool_choice.tools[{i}]': names must be strings.",
                            param=f"tool_choice.tools[{i}]",
                        )
            return
        raise InvalidRequest(
            "Invalid value for 'tool_choice': expected 'none', 'auto', 'required', or an object naming a "
            "function, a custom tool, an mcp server, web_search, file_search or allowed_tools.",
            param="tool_choice",
        )

    def add_mcp_listing(self, request: McpRequest, listed: list[McpTool], reused: bool = False) -> None:
        """Offer a listed server's tools upstream; `listed` is already cut to `allowed_tools`
        (by `ToolRunner.list_mcp`, whose listing item shows the same tools)."""
        names: list[str] = []
        upstream: list[dict[str, Any]] = []
        for tool in listed:
            if tool.name in self.targets:
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
            self.targets[tool.name] = Target("mcp", tool.name)
            names.append(tool.name)
        self.mcp_labels[request.server.label] = names
        # Reused listings go first upstream, as the recordings this must match were made.
        self.entries.append((-1 - len(self.reused_first) if reused else request.index, upstream))
        if reused:
            self.reused_first.append(request.server.label)

    def classify(self, name: str) -> Target:
        """What a call by this upstream name is; an unknown name goes back to the client as a
        function call, and the client can say it is unknown."""
        return self.targets.get(name) or Target("function", name)

    def _all(self) -> list[dict[str, Any]]:
        return [tool for _, group in sorted(self.entries, key=lambda e: e[0]) for tool in group]

    def _named(self, name: str) -> dict[str, Any]:
        if self.options.custom_native and self.classify(name).kind == "custom":
            return {"type": "custom", "custom": {"name": name}}
        return {"type": "function", "function": {"name": name}}

    def _choice_and_tools(self) -> tuple[ToolChoice, list[dict[str, Any]]]:
        tools = self._all()
        names = {upstream_name(t) for t in tools}
        choice = self.choice
        if choice is None or isinstance(choice, str):
            return choice, tools
        kind = choice.get("type")
        if kind in ("function", "custom") or (kind == "mcp" and choice.get("name")):
            name = choice.get("name")
            if name not in names:
                raise InvalidRequest(
                    f"Invalid value for 'tool_choice': tool {name!r} is not in 'tools'.", param="tool_choice"
                )
            return self._named(str(name)), tools
        if kind == "mcp":
            own = set(self.mcp_labels.get(str(choice.get("server_label")), []))
            kept = [t for t in tools if upstream_name(t) in own]
            return ("required" if kept else None), kept
        if kind in web_search.TOOL_TYPES:
            return (self._named("web_search") if "web_search" in names else None), tools
        if kind == file_search.TOOL_TYPE:
            return (self._named(file_search.NAME) if file_search.NAME in names else None), tools
        allowed: set[str] = set()
        for entry in choice.get("tools") or ():
            if entry.get("type") in ("function", "custom"):
                allowed.add(entry.get("name"))
            elif entry.get("type") == "mcp":
                allowed.update(entry.get("tool_names") or self.mcp_labels.get(entry.get("server_label"), []))
            elif entry.get("type") in web_search.TOOL_TYPES:
                allowed.add("web_search")
            elif entry.get("type") == file_search.TOOL_TYPE:
                allowed.add(file_search.NAME)
        return choice.get("mode", "auto"), [t for t in tools if upstream_name(t) in allowed]

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
        if tools or not self.options.faithful:  # OGX sends "tools": [] when none is left
            body["tools"] = tools
