"""Tools against the fake upstream: web search, MCP events, limits, tool_choice, bad tools."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support import (
    HTTP,
    Process,
    Server,
    start_mcp_server,
    start_server,
    upstream_env,
    upstream_requests,
)

TAVILY_KEY = {"X-OGX-Provider-Data": json.dumps({"tavily_search_api_key": "tvly-test"})}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CLOCK = {
    "type": "function",
    "name": "get_time",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
}


@pytest.fixture(scope="module")
def boiling_sse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    with start_mcp_server(tmp_path_factory.mktemp("mcp"), "boiling", transport="sse") as proc:
        yield proc


def mcp(server: Process, **extra: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "lab", "server_url": server.mcp_url, **extra}  # type: ignore[attr-defined]


def test_web_search_round_trip(live_server: Server, fake_upstream: Process) -> None:
    client = live_server.client(default_headers=TAVILY_KEY)
    HTTP.delete(fake_upstream.url + "/fake/requests")
    events = list(
        client.responses.create(
            model="openai/tool-call", input="Where is Paris?", tools=[{"type": "web_search"}], stream=True
        )
    )
    types = [e.type for e in events]
    for kind in ("in_progress", "searching", "completed"):
        assert f"response.web_search_call.{kind}" in types
    final = events[-1].response
    search, message = final.output[0], final.output[-1]
    assert search.type == "web_search_call" and search.status == "completed"
    assert search.action.query == "Paris"  # type: ignore[union-attr]
    assert message.type == "message" and final.status == "completed"
    assert final.tools[0].type == "web_search"
    first, second = upstream_requests(fake_upstream)
    assert (
        first["tools"][0]["function"]["name"] == "web_search" and "type" not in first["tools"][0]["function"]
    )
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool"
    assert json.loads(tool_message["content"])["top_k"][0]["content"] == "Paris is in France."
    assert second["service_tier"] == "default"
    assert final.usage is not None and final.usage.total_tokens == 32  # two model calls


def test_web_search_without_a_provider_is_not_offered(live_server: Server, fake_upstream: Process) -> None:
    """No search key: the model is not offered a tool that could only answer "no API key"."""
    HTTP.delete(fake_upstream.url + "/fake/requests")
    response = live_server.client().responses.create(
        model="openai/tool-call", input="x", tools=[{"type": "web_search_preview"}]
    )
    assert [item.type for item in response.output] == ["message"] and response.status == "completed"
    assert response.tools[0].type == "web_search_preview"  # still echoed as the client sent it
    (body,) = upstream_requests(fake_upstream)
    assert "tools" not in body and "tool_choice" not in body


def test_web_search_without_key_fails_the_call_not_the_response(
    tmp_path: Path, fake_upstream: Process
) -> None:
    """A key that the search provider refuses: the call fails, the response does not."""
    env = upstream_env(fake_upstream, RESPONSA_TAVILY_BASE_URL=fake_upstream.url, TAVILY_API_KEY="tvly-wrong")
    with start_server(tmp_path, "badkey", env) as server:
        response = server.client().responses.create(
            model="openai/tool-call", input="x", tools=[{"type": "web_search_preview"}]
        )
    assert response.output[0].type == "web_search_call" and response.output[0].status == "failed"
    assert response.status == "completed"


def test_web_search_is_recorded_and_replayed(tmp_path: Path, fake_upstream: Process) -> None:
    env = upstream_env(
        fake_upstream,
        RESPONSA_TAVILY_BASE_URL=fake_upstream.url,
        TAVILY_API_KEY="tvly-test",
        RESPONSA_RECORDING_MODE="record",
        RESPONSA_RECORDING_DIR=str(tmp_path / "rec"),
    )
    with start_server(tmp_path, "rec", env) as server:
        recorded = server.client("t::web").responses.create(
            model="openai/tool-call", input="Paris?", tools=[{"type": "web_search"}]
        )
    tool_files = [p for p in (tmp_path / "rec").glob("*.json") if '"tool_invocation"' in p.read_text()]
    assert len(tool_files) == 1
    data = json.loads(tool_files[0].read_text())
    assert data["test_id"] is None and data["request"]["body"] == {
        "provider": "tavily",
        "tool_name": "web_search",
        "kwargs": {"query": "Paris"},
    }
    offline = {
        **env,
        "RESPONSA_RECORDING_MODE": "replay",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "RESPONSA_TAVILY_BASE_URL": "http://127.0.0.1:9",
        "TAVILY_API_KEY": "",
    }
    with start_server(tmp_path, "replay", offline) as server:
        replayed = server.client("t::web").responses.create(
            model="openai/tool-call", input="Paris?", tools=[{"type": "web_search"}]
        )
    assert replayed.output[0].status == "completed"  # type: ignore[union-attr]
    assert replayed.output_text == recorded.output_text


def test_mcp_events_in_order(live_server: Server, boiling: Process) -> None:
    client = live_server.client()
    events = list(
        client.responses.create(
            model="openai/tool-call",
            input="Boiling point?",
            stream=True,
            tools=[mcp(boiling, allowed_tools=["get_boiling_point"])],
        )
    )
    assert [e.sequence_number for e in events] == list(range(len(events)))
    types = [e.type for e in events]
    expected = [
        "response.mcp_list_tools.in_progress",
        "response.output_item.added",
        "response.mcp_list_tools.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.mcp_call.in_progress",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.completed",
        "response.output_item.done",
    ]
    assert types[2:12] == expected
    final = events[-1].response
    listing, call = final.output[0], final.output[1]
    assert [t.name for t in listing.tools] == ["get_boiling_point"]  # type: ignore[union-attr]
    assert call.type == "mcp_call" and call.output == "-1" and call.status == "completed"
    assert json.loads(call.arguments) == {"liquid_name": "Paris"}
    assert final.output[-1].type == "message"
    assert final.tools[0].type == "mcp" and final.tools[0].headers is None  # type: ignore[union-attr]


def test_mcp_over_sse(live_server: Server, boiling_sse: Process) -> None:
    response = live_server.client().responses.create(
        model="openai/tool-call", input="x", tools=[mcp(boiling_sse)]
    )
    assert response.output[1].type == "mcp_call" and response.output[1].error is None


def test_max_infer_iters_makes_it_incomplete(
    live_server: Server, boiling: Process, fake_upstream: Process
) -> None:
    HTTP.delete(fake_upstream.url + "/fake/requests")
    response = live_server.client().responses.create(
        model="openai/tool-loop", input="loop", tools=[mcp(boiling)], extra_body={"max_infer_iters": 2}
    )
    assert response.status == "incomplete"
    assert (
        response.incomplete_details is not None
        and response.incomplete_details.reason == "max_iterations_exceeded"
    )
    assert [o.type for o in response.output].count("mcp_call") == 2
    assert len(upstream_requests(fake_upstream)) == 2
    assert response.usage is not None and response.usage.output_tokens == 10


def test_max_tool_calls_skips_and_tells_the_model(
    live_server: Server, boiling: Process, fake_upstream: Process
) -> None:
    HTTP.delete(fake_upstream.url + "/fake/requests")
    response = live_server.client().responses.create(
        model="openai/tool-loop",
        input="loop",
        tools=[mcp(boiling)],
        max_tool_calls=1,
        extra_body={"max_infer_iters": 3},
    )
    assert [o.type for o in response.output].count("mcp_call") == 1
    last = upstream_requests(fake_upstream)[-1]["messages"][-1]
    assert last == {
        "role": "tool",
        "tool_call_id": last["tool_call_id"],
        "content": "Tool call skipped: maximum tool calls limit (1) reached.",
    }


@pytest.mark.parametrize(
    ("choice", "expected_choice", "expected_tools"),
    [
        ("auto", "auto", ["get_weather", "get_time"]),
        ("required", "required", ["get_weather", "get_time"]),
        (
            {"type": "function", "name": "get_time"},
            {"type": "function", "function": {"name": "get_time"}},
            ["get_weather", "get_time"],
        ),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "get_time"}],
            },
            "required",
            ["get_time"],
        ),
        ("none", None, None),
    ],
)
def test_tool_choice_upstream(
    live_server: Server,
    fake_upstream: Process,
    choice: Any,
    expected_choice: Any,
    expected_tools: list[str] | None,
) -> None:
    HTTP.delete(fake_upstream.url + "/fake/requests")
    live_server.client().responses.create(
        model="openai/gpt-4o",
        input="hi",
        tools=[WEATHER, CLOCK],  # type: ignore[list-item]
        tool_choice=choice,
        parallel_tool_calls=False,
    )
    (body,) = upstream_requests(fake_upstream)
    assert body.get("tool_choice") == expected_choice
    assert ([t["function"]["name"] for t in body["tools"]] if "tools" in body else None) == expected_tools
    assert body["parallel_tool_calls"] is False


def test_tool_choice_switches_to_auto_after_the_first_call(
    live_server: Server, boiling: Process, fake_upstream: Process
) -> None:
    HTTP.delete(fake_upstream.url + "/fake/requests")
    live_server.client().responses.create(
        model="openai/tool-call", input="x", tools=[mcp(boiling)], tool_choice="required"
    )
    first, second = upstream_requests(fake_upstream)
    assert first["tool_choice"] == "required" and second["tool_choice"] == "auto"
    assert "service_tier" not in first and second["service_tier"] == "default"


def test_structured_output_upstream(live_server: Server, fake_upstream: Process) -> None:
    HTTP.delete(fake_upstream.url + "/fake/requests")
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    response = live_server.client().responses.create(
        model="openai/gpt-4o",
        input="hi",
        text={
            "format": {
                "type": "json_schema",
                "name": "Thing",
                "description": "d",
                "schema": schema,
                "strict": True,
            }
        },
    )
    (body,) = upstream_requests(fake_upstream)
    # Faithful translation: strict and description reach the upstream, which then enforces the schema.
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Thing", "schema": schema, "description": "d", "strict": True},
    }
    assert response.text.format.type == "json_schema" and response.text.format.schema_ == schema  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        (
            {
                "type": "mcp",
                "server_label": "x",
                "server_url": "http://127.0.0.1:9/mcp",
                "headers": {"authorization": "Bearer secret"},
            },
            "tools[0].headers",
        ),
        ({"type": "mcp", "server_url": "http://127.0.0.1:9/mcp"}, "tools[0].server_label"),
        ({"type": "mcp", "server_label": "x"}, "tools[0].server_url"),
        ({"type": "mcp", "server_label": "x", "connector_id": "connector_gmail"}, "tools[0].connector_id"),
        ({"type": "web_search", "search_context_size": "huge"}, "tools[0].search_context_size"),
        ({"type": "computer_use_preview", "display_width": 1024}, "tools[0].type"),
    ],
)
def test_bad_tools_are_400(live_server: Server, tool: dict[str, Any], param: str) -> None:
    resp = HTTP.post(
        live_server.url + "/v1/responses", json={"model": "openai/gpt-4o", "input": "x", "tools": [tool]}
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == param


def test_unreachable_mcp_server_fails_cleanly(live_server: Server) -> None:
    tool = {"type": "mcp", "server_label": "gone", "server_url": "http://127.0.0.1:9/mcp"}
    with pytest.raises(openai.APIStatusError) as info:
        live_server.client().responses.create(model="openai/gpt-4o", input="x", tools=[tool])  # type: ignore[list-item]
    assert info.value.status_code == 424 and "gone" in str(info.value)
    events = list(
        live_server.client().responses.create(
            model="openai/gpt-4o",
            input="x",
            tools=[tool],  # type: ignore[list-item]
            stream=True,
        )
    )
    assert [e.type for e in events][-2:] == ["response.output_item.done", "response.failed"]
    assert "response.mcp_list_tools.failed" in [e.type for e in events]
