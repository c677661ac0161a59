"""Call items, both directions: input items into upstream tool calls (faithful and OGX), and
a custom call's JSON argument decoded while it streams."""

from __future__ import annotations

import json

import pytest

from responsa.engine.items.calls import InputField
from responsa.engine.translate import ChatOptions, to_chat_messages
from responsa.errors import InvalidRequest

FAITHFUL = ChatOptions(faithful=True)
OGX = ChatOptions(faithful=False)
PARALLEL = [
    {"role": "user", "content": "Weather in A and B?"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
    {"type": "function_call", "call_id": "c1", "name": "w", "arguments": '{"city":"A"}'},
    {"type": "function_call", "call_id": "c2", "name": "w", "arguments": '{"city":"B"}'},
    {"type": "function_call_output", "call_id": "c1", "output": "sun"},
    {"type": "function_call_output", "call_id": "c2", "output": "rain"},
]


def test_parallel_calls_are_one_assistant_message_with_the_text_before_them() -> None:
    assert to_chat_messages(PARALLEL, options=FAITHFUL) == [
        {"role": "user", "content": "Weather in A and B?"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Checking."}],
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "w", "arguments": '{"city":"A"}'}},
                {"id": "c2", "type": "function", "function": {"name": "w", "arguments": '{"city":"B"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sun"},
        {"role": "tool", "tool_call_id": "c2", "content": "rain"},
    ]


def test_ogx_sends_one_message_per_call_with_its_output_after_it() -> None:
    call = {"index": 0, "type": "function"}
    assert to_chat_messages(PARALLEL, options=OGX) == [
        {"role": "user", "content": "Weather in A and B?"},
        {"role": "assistant", "content": [{"type": "text", "text": "Checking."}]},
        {
            "role": "assistant",
            "tool_calls": [{**call, "id": "c1", "function": {"name": "w", "arguments": '{"city":"A"}'}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sun"},
        {
            "role": "assistant",
            "tool_calls": [{**call, "id": "c2", "function": {"name": "w", "arguments": '{"city":"B"}'}}],
        },
        {"role": "tool", "tool_call_id": "c2", "content": "rain"},
    ]


def test_sequential_calls_stay_sequential() -> None:
    items = [PARALLEL[0], PARALLEL[2], PARALLEL[4], PARALLEL[3], PARALLEL[5]]
    roles = [m["role"] for m in to_chat_messages(items, options=FAITHFUL)]
    assert roles == ["user", "assistant", "tool", "assistant", "tool"]


@pytest.mark.parametrize("native", [False, True])
def test_custom_call_and_output(native: bool) -> None:
    items = [
        {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin Patch"},
        {"type": "custom_tool_call_output", "call_id": "c1", "output": "ok"},
    ]
    messages = to_chat_messages(items, options=ChatOptions(custom_native=native))
    expected = (
        {"id": "c1", "type": "custom", "custom": {"name": "apply_patch", "input": "*** Begin Patch"}}
        if native
        else {
            "id": "c1",
            "type": "function",
            "function": {"name": "apply_patch", "arguments": json.dumps({"input": "*** Begin Patch"})},
        }
    )
    assert messages == [
        {"role": "assistant", "tool_calls": [expected]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]


def test_namespaced_call_and_tool_search_call() -> None:
    items = [
        {"type": "function_call", "call_id": "c1", "name": "spawn", "namespace": "agents", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "spawned"},
        {"type": "tool_search_call", "call_id": "s1", "execution": "client", "arguments": {"query": "x"}},
        {
            "type": "tool_search_output",
            "call_id": "s1",
            "execution": "client",
            "tools": [{"type": "function", "name": "found"}],
        },
    ]
    messages = to_chat_messages(items)
    assert messages[0]["tool_calls"][0]["function"]["name"] == "agents__spawn"
    assert messages[2]["tool_calls"][0]["function"] == {"name": "tool_search", "arguments": '{"query": "x"}'}
    assert json.loads(messages[3]["content"]) == {"loaded_tools": [{"name": "found", "description": None}]}


def test_output_without_a_call_is_400() -> None:
    with pytest.raises(InvalidRequest, match="call_x"):
        to_chat_messages([{"type": "custom_tool_call_output", "call_id": "call_x", "output": "1"}])


def decode(pieces: list[str]) -> tuple[str, str]:
    field = InputField()
    streamed = "".join(field.feed(p) for p in pieces)
    return streamed, field.value()


def test_input_field_streams_the_decoded_string_across_any_split() -> None:
    text = 'line "one"\n\\ \u00e9 \U0001f600 end'
    raw = json.dumps({"input": text})
    for cut in range(1, len(raw)):
        streamed, value = decode([raw[:cut], raw[cut:]])
        assert value == text and text.startswith(streamed), cut
    streamed, _ = decode(list(raw))  # one character at a time
    assert streamed == text


def test_input_field_falls_back_to_the_raw_text() -> None:
    assert decode(['{"other": 1, "input": "x"}']) == ("", "x")
    assert decode(["not json at all"]) == ("", "not json at all")
