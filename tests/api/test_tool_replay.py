"""Replay the peer's tool scenarios: client function tools, MCP tools (listing, calls, limits,
parallel calls, approvals, previous_response_id reuse) through our own MCP test servers.

Every upstream call of the tool loop must hit a recording: one miss fails the response with a
`replay_miss` error, so a completed response proves that every body matched key for key.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.support import SHARED, Process, Server, start_mcp_server

PREFIX = "tests/integration/responses/test_tool_responses.py::"
BOILING = {"greet_everyone", "get_boiling_point"}
CLIENTS = ["openai_client", "client_with_models"]


def _first_inputs() -> dict[str, str]:
    """test id -> the user input of its first upstream call (from the recordings)."""
    found: dict[str, str] = {}
    folder = SHARED / "recordings" / "peer-dev" / "test_tool_responses"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = json.loads(path.read_text())
        messages = data["request"]["body"]["messages"]
        if len(messages) == 1 and isinstance(messages[0]["content"], str):
            found[data["test_id"]] = messages[0]["content"]
    return found


INPUTS = _first_inputs()
GROUPS: dict[str, list[str]] = defaultdict(list)
for _test_id in INPUTS:
    GROUPS[_test_id.split("::")[-1].split("[")[0]].append(_test_id)


@pytest.fixture(scope="module")
def boiling_with_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    with start_mcp_server(tmp_path_factory.mktemp("mcp"), "boiling", "--token", "test-token") as proc:
        yield proc


@pytest.fixture(scope="module")
def dependency(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    with start_mcp_server(tmp_path_factory.mktemp("mcp"), "dependency") as proc:
        yield proc


def mcp_tool(server: Process, **extra: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "localmcp", "server_url": server.mcp_url, **extra}  # type: ignore[attr-defined]


def _ids(test: str) -> list[str]:
    return sorted(GROUPS.get(test, []))


@pytest.mark.parametrize("test_id", _ids("test_response_non_streaming_mcp_tool"))
def test_mcp_tool(replay_server: Server, boiling: Process, boiling_with_token: Process, test_id: str) -> None:
    client = replay_server.client(test_id)
    response = client.responses.create(
        model="openai/gpt-4o", input=INPUTS[test_id], tools=[mcp_tool(boiling)]
    )
    listing, call, message = response.output[0], response.output[1], response.output[-1]
    assert listing.type == "mcp_list_tools" and listing.server_label == "localmcp"
    assert {t.name for t in listing.tools} == BOILING
    assert call.type == "mcp_call" and call.name == "get_boiling_point" and call.error is None
    assert call.output is not None and "-100" in call.output
    assert json.loads(call.arguments)["liquid_name"] == "myawesomeliquid"
    assert message.type == "message" and "boiling point" in response.output_text.lower()
    assert response.status == "completed"

    with pytest.raises(openai.APIStatusError) as info:  # the server wants a token
        client.responses.create(
            model="openai/gpt-4o", input=INPUTS[test_id], tools=[mcp_tool(boiling_with_token)]
        )
    assert info.value.status_code == 424 and "localmcp" in str(info.value)
    authorized = client.responses.create(
        model="openai/gpt-4o",
        input=INPUTS[test_id],
        tools=[mcp_tool(boiling_with_token, authorization="test-token")],
    )
    assert authorized.status == "completed" and len(authorized.output) >= 3


@pytest.mark.parametrize("test_id", _ids("test_response_sequential_mcp_tool"))
def test_sequential_mcp_reuses_listing(replay_server: Server, boiling: Process, test_id: str) -> None:
    client = replay_server.client(test_id)
    tools = [mcp_tool(boiling)]
    first = client.responses.create(model="openai/gpt-4o", input=INPUTS[test_id], tools=tools)
    second = client.responses.create(
        model="openai/gpt-4o", input=INPUTS[test_id], tools=tools, previous_response_id=first.id
    )
    assert second.status == "completed"
    assert second.output[0].type == "mcp_list_tools"  # reused, not listed again
    assert "-100" in second.output_text or "boiling point" in second.output_text.lower()


@pytest.mark.parametrize("test_id", _ids("test_response_mcp_tool_approval"))
def test_mcp_approval(replay_server: Server, boiling: Process, test_id: str) -> None:
    approve = "-True-" in test_id
    client = replay_server.client(test_id)
    tools = [mcp_tool(boiling, require_approval="always")]
    first = client.responses.create(model="openai/gpt-4o", input=INPUTS[test_id], tools=tools)
    # (one recording's model also wrote text before its call: that message is kept in output)
    (request,) = [o for o in first.output if o.type == "mcp_approval_request"]
    assert request.name == "get_boiling_point" and request.server_label == "localmcp"
    assert json.loads(request.arguments)["liquid_name"] == "myawesomeliquid"
    assert first.status == "completed"
    second = client.responses.create(
        model="openai/gpt-4o",
        previous_response_id=first.id,
        tools=tools,
        input=[{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": approve}],
    )
    calls = [o for o in second.output if o.type == "mcp_call"]
    if approve:
        assert len(calls) == 1 and calls[0].output == "-100" and calls[0].approval_request_id == request.id
        assert "boiling point" in second.output_text.lower()
    else:
        assert calls == [] and second.status == "completed"  # the denied call never ran


@pytest.mark.parametrize("test_id", _ids("test_max_tool_calls_with_mcp_tools"))
def test_max_tool_calls_with_mcp(replay_server: Server, dependency: Process, test_id: str) -> None:
    client = replay_server.client(test_id)
    unlimited = client.responses.create(
        model="openai/gpt-4o", input=INPUTS[test_id], tools=[mcp_tool(dependency)]
    )
    assert [o.type for o in unlimited.output].count("mcp_call") == 2
    limited = client.responses.create(
        model="openai/gpt-4o", input=INPUTS[test_id], tools=[mcp_tool(dependency)], max_tool_calls=1
    )
    calls = [o for o in limited.output if o.type == "mcp_call"]
    assert len(calls) == 1 and calls[0].name == "get_experiment_id" and calls[0].output == "exp_004"
    assert limited.max_tool_calls == 1 and limited.status == "completed"


@pytest.mark.parametrize("test_id", _ids("test_parallel_tool_calls_with_mcp_tools"))
@pytest.mark.parametrize("parallel", [True, False])
def test_parallel_mcp_calls(replay_server: Server, dependency: Process, test_id: str, parallel: bool) -> None:
    client = replay_server.client(test_id)
    response = client.responses.create(
        model="openai/gpt-4o",
        input=INPUTS[test_id],
        tools=[mcp_tool(dependency)],
        parallel_tool_calls=parallel,
    )
    outputs = {o.output for o in response.output if o.type == "mcp_call"}
    assert outputs == {"exp_004", "user_11111"} and response.status == "completed"


@pytest.mark.parametrize(
    "test_id",
    _ids("test_response_non_streaming_multi_turn_tool_execution")
    + _ids("test_response_streaming_multi_turn_tool_execution"),
)
def test_multi_turn_tool_execution(replay_server: Server, dependency: Process, test_id: str) -> None:
    client = replay_server.client(test_id)
    kwargs = {"model": "openai/gpt-4o", "input": INPUTS[test_id], "tools": [mcp_tool(dependency)]}
    if "_streaming_" in test_id and "non_streaming" not in test_id:
        events = list(client.responses.create(**kwargs, stream=True))  # type: ignore[call-overload]
        assert [e.sequence_number for e in events] == list(range(len(events)))
        types = [e.type for e in events]
        assert "response.mcp_call.completed" in types and "response.mcp_call_arguments.done" in types
        assert "response.function_call_arguments.delta" not in types  # MCP events carry MCP names
        response = events[-1].response
    else:
        response = client.responses.create(**kwargs)  # type: ignore[call-overload]
    assert response.status == "completed", response.error
    assert [o.type for o in response.output].count("mcp_list_tools") == 1
    calls = [o for o in response.output if o.type == "mcp_call"]
    assert len(calls) >= 2 and all(c.error is None for c in calls)
    assert response.output[-1].type == "message" and response.output_text


WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get current temperature for a given location.",
    "parameters": {
        "additionalProperties": False,
        "properties": {
            "location": {"description": "City and country e.g. Bogotá, Colombia", "type": "string"}
        },
        "required": ["location"],
        "type": "object",
    },
}


@pytest.mark.parametrize("test_id", _ids("test_response_function_call_ordering_1"))
def test_function_call_output_with_previous_response(replay_server: Server, test_id: str) -> None:
    client = replay_server.client(test_id)
    first = client.responses.create(model="openai/gpt-4o", input=INPUTS[test_id], tools=[WEATHER])  # type: ignore[list-item]
    assert len(first.output) == 1 and first.output[0].type == "function_call"
    second = client.responses.create(
        model="openai/gpt-4o",
        tools=[WEATHER],
        previous_response_id=first.id,  # type: ignore[list-item]
        input=[
            {"role": "user", "content": INPUTS[test_id]},
            {"type": "function_call_output", "output": "It is raining.", "call_id": first.output[0].call_id},
        ],
    )
    assert len(second.output) == 1 and second.output[0].type == "message"


@pytest.mark.parametrize("test_id", _ids("test_response_function_call_ordering_2"))
def test_function_calls_resent_as_items(replay_server: Server, test_id: str) -> None:
    client = replay_server.client(test_id)
    inputs: list[Any] = [{"role": "user", "content": INPUTS[test_id]}]
    first = client.responses.create(model="openai/gpt-4o", input=inputs, tools=[WEATHER])  # type: ignore[list-item]
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 2
    inputs += [c.model_dump(exclude_none=True) for c in calls]
    inputs += [
        {
            "type": "function_call_output",
            "call_id": c.call_id,
            "output": "It is cloudy." if "Los Angeles" in c.arguments else "It is raining.",
        }
        for c in calls
    ]
    second = client.responses.create(model="openai/gpt-4o", input=inputs, tools=[WEATHER])  # type: ignore[list-item]
    assert len(second.output) == 1 and "Los Angeles" in second.output_text


@pytest.mark.parametrize(
    "test_id",
    _ids("test_function_call_output_list_text") + _ids("test_function_call_output_list_text_multi_block"),
)
def test_function_call_output_as_parts(replay_server: Server, test_id: str) -> None:
    client = replay_server.client(test_id)
    first = client.responses.create(model="openai/gpt-4o", input=INPUTS[test_id], tools=[WEATHER])  # type: ignore[list-item]
    texts = (
        ["Current conditions: overcast skies.", "Temperature: 15 degrees Celsius."]
        if "multi_block" in test_id
        else ["It is sunny and 22 degrees Celsius in Paris."]
    )
    second = client.responses.create(
        model="openai/gpt-4o",
        tools=[WEATHER],
        previous_response_id=first.id,  # type: ignore[list-item]
        input=[
            {
                "type": "function_call_output",
                "call_id": first.output[0].call_id,
                "output": [{"type": "input_text", "text": t} for t in texts],
            }
        ],
    )
    assert len(second.output) == 1 and second.output[0].type == "message" and second.output_text
