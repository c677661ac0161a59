"""The model's reply as output items and as the next call's history: text before a call, custom
calls (function stand-in and native), namespaced calls."""

from __future__ import annotations

import json

from responsa import ids
from responsa.engine.model_call import CallOptions, ModelCall
from responsa.engine.response import UsageTotals
from responsa.engine.tools import ToolOptions, ToolSet

TOOLS = [
    {"type": "function", "name": "w", "parameters": {"type": "object"}},
    {"type": "custom", "name": "apply_patch"},
    {
        "type": "namespace",
        "name": "crm",
        "description": "CRM",
        "tools": [{"type": "function", "name": "find"}],
    },
]


def call_with(options: CallOptions, *chunks: dict[str, object]) -> tuple[list[dict[str, object]], ModelCall]:
    tools = ToolSet.from_request(TOOLS, None, ToolOptions(options.faithful, options.custom_native))
    call = ModelCall({"id": ids.response_id(), "output": []}, UsageTotals(), tools, options)
    events = [e for c in chunks for e in call.on_chunk(c)] + call.finish("completed")
    return events, call


def tool_delta(index: int, **fields: object) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": index, **fields}]}}]}


TEXT = {"choices": [{"index": 0, "delta": {"content": "Let me check."}}]}
CALL = tool_delta(0, id="c1", type="function", function={"name": "w", "arguments": '{"a":1}'})


def test_text_before_a_call_is_kept_faithfully() -> None:
    _, call = call_with(CallOptions(), TEXT, CALL)
    assert call.assistant_message() == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": '{"a":1}'}}],
    }
    assert [item["type"] for item in call.response["output"]] == ["message", "function_call"]  # type: ignore[index]


def test_ogx_sends_an_empty_content_with_calls() -> None:
    _, call = call_with(CallOptions(faithful=False), TEXT, CALL)
    message = call.assistant_message()
    assert message is not None and message["content"] == "" and message["tool_calls"][0]["index"] == 0


def test_custom_call_through_its_function_stand_in() -> None:
    raw = json.dumps({"input": "*** Begin Patch\n"})
    events, call = call_with(
        CallOptions(),
        tool_delta(0, id="c2", type="function", function={"name": "apply_patch", "arguments": raw[:9]}),
        tool_delta(0, function={"arguments": raw[9:]}),
    )
    deltas = "".join(str(e["delta"]) for e in events if e["type"] == "response.custom_tool_call_input.delta")
    assert deltas == "*** Begin Patch\n"
    item = call.response["output"][0]  # type: ignore[index]
    assert (
        item["type"] == "custom_tool_call"
        and item["input"] == "*** Begin Patch\n"
        and item["id"].startswith("ctc_")
    )
    history = call.assistant_message()
    assert history is not None and history["tool_calls"][0]["function"]["arguments"] == raw


def test_native_custom_call() -> None:
    _, call = call_with(
        CallOptions(custom_native=True),
        tool_delta(0, id="c3", type="custom", custom={"name": "apply_patch", "input": "ab"}),
        tool_delta(0, type="custom", custom={"input": "c"}),
    )
    assert call.response["output"][0]["input"] == "abc"  # type: ignore[index]
    history = call.assistant_message()
    assert history is not None and history["tool_calls"] == [
        {"id": "c3", "type": "custom", "custom": {"name": "apply_patch", "input": "abc"}}
    ]


def test_namespaced_call_comes_back_split() -> None:
    _, call = call_with(
        CallOptions(),
        tool_delta(0, id="c4", type="function", function={"name": "crm__find", "arguments": "{}"}),
    )
    item = call.response["output"][0]  # type: ignore[index]
    assert item["name"] == "find" and item["namespace"] == "crm"
    history = call.assistant_message()
    assert history is not None and history["tool_calls"][0]["function"]["name"] == "crm__find"
