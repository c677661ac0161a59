"""What real clients send, against a strict upstream (`strict_server`): every input item and tool
type in both directions, Responses-only fields consumed, errors clients can act on.

Each test drives the scripted model (tests/scripted_model.py) through the official SDK and then
reads what the upstream received (`upstream_requests`)."""

from __future__ import annotations

import json

import openai
import pytest
import zstandard

from responsa import ids
from tests.scripted_model import script
from tests.support import HTTP, Process, Server, upstream_requests


def test_responses_only_fields_are_consumed(strict_server: Server, fake: Process) -> None:
    """Codex, the Agents SDK and LangChain send these; a strict upstream must never see them."""
    response = strict_server.client().responses.create(
        model="gpt-4o",
        input=script({"say": "Fine."}),
        prompt_cache_options={"mode": "implicit"},
        prompt_cache_retention="24h",
        prompt_cache_key="thread-1",
        moderation={"model": "omni-moderation-latest"},
        background_options={"completion_window": "soonest"},
        context_management=[{"type": "compaction", "compact_threshold": 100000}],
        include=["reasoning.encrypted_content", "message.output_text.logprobs"],
        truncation="disabled",
        reasoning={"effort": "xhigh", "summary": "auto"},
        text={"verbosity": "low"},
        service_tier="ultrafast",
        store=False,
        extra_body={"client_metadata": {"session_id": "s1"}},  # Codex; not in the SDK's signature
    )
    assert response.output_text == "Fine."
    (body,) = upstream_requests(fake)
    assert body["reasoning_effort"] == "xhigh" and body["verbosity"] == "low"
    assert body["service_tier"] == "ultrafast" and body["prompt_cache_retention"] == "24h"
    assert body["prompt_cache_key"] == "thread-1" and body["logprobs"] is True
    assert "client_metadata" not in body and "extra_body" not in body


def test_unknown_fields_still_reach_the_upstream(live_server: Server, fake: Process) -> None:
    live_server.client().responses.create(
        model="openai/gpt-4o", input="hi", extra_body={"repetition_penalty": 1.1, "top_k": 20}
    )
    (body,) = upstream_requests(fake)
    assert body["repetition_penalty"] == 1.1 and body["top_k"] == 20


APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Apply a patch.",
    "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch" /(.|\\n)*/'},
}
PATCH = '*** Begin Patch\n*** Add File: a.txt\n+say "hi" \\ \u00e9\n*** End Patch'


def test_custom_tool_round_trip(strict_server: Server, fake: Process) -> None:
    client = strict_server.client()
    prompt = script(
        {"say": "Patching.", "calls": [{"name": "apply_patch", "input": PATCH}]}, {"say": "{last_tool}"}
    )
    events = list(
        client.responses.create(model="gpt-4o", input=prompt, tools=[APPLY_PATCH], stream=True, store=False)
    )
    deltas = "".join(e.delta for e in events if e.type == "response.custom_tool_call_input.delta")
    done = next(e for e in events if e.type == "response.custom_tool_call_input.done")
    assert deltas == PATCH and done.input == PATCH
    final = events[-1].response
    message, call = final.output
    assert message.type == "message" and message.content[0].text == "Patching."  # type: ignore[union-attr]
    assert call.type == "custom_tool_call" and call.input == PATCH and call.name == "apply_patch"
    (first,) = upstream_requests(fake)
    (offered,) = first["tools"]
    assert offered["type"] == "function" and offered["function"]["name"] == "apply_patch"
    assert "lark grammar" in offered["function"]["description"]
    assert offered["function"]["parameters"]["required"] == ["input"]

    history = [
        {"role": "user", "content": prompt},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Patching."}]},
        {"type": "custom_tool_call", "call_id": call.call_id, "name": "apply_patch", "input": PATCH},
        {
            "type": "custom_tool_call_output",
            "call_id": call.call_id,
            "output": [{"type": "input_text", "text": "Done!"}],
        },
    ]
    follow = client.responses.create(model="gpt-4o", input=history, tools=[APPLY_PATCH], store=False)  # type: ignore[arg-type]
    assert follow.output_text == "Done!"
    second = upstream_requests(fake)[1]["messages"]
    assert second[1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Patching."}],
        "tool_calls": [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": "apply_patch", "arguments": json.dumps({"input": PATCH})},
            }
        ],
    }
    assert second[2] == {
        "role": "tool",
        "tool_call_id": call.call_id,
        "content": [{"type": "text", "text": "Done!"}],
    }


def test_invalid_regex_grammar_is_400(strict_server: Server) -> None:
    tool = {
        "type": "custom",
        "name": "t",
        "format": {"type": "grammar", "syntax": "regex", "definition": "(["},
    }
    with pytest.raises(openai.BadRequestError) as info:
        strict_server.client().responses.create(model="gpt-4o", input="x", tools=[tool])  # type: ignore[list-item]
    assert info.value.body["param"] == "tools[0].format.definition"  # type: ignore[index]


NAMESPACE = {
    "type": "namespace",
    "name": "crm",
    "description": "The CRM.",
    "tools": [
        {
            "type": "function",
            "name": "find",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        }
    ],
}


def test_namespace_tools_are_flattened_and_split_again(strict_server: Server, fake: Process) -> None:
    client = strict_server.client()
    prompt = script(
        {"calls": [{"name": "crm__find", "arguments": {"q": "Ada"}}]}, {"say": "Found {last_tool}."}
    )
    first = client.responses.create(model="gpt-4o", input=prompt, tools=[NAMESPACE])  # type: ignore[list-item]
    (call,) = first.output
    assert call.type == "function_call" and call.name == "find" and call.namespace == "crm"
    follow = client.responses.create(
        model="gpt-4o",
        previous_response_id=first.id,
        tools=[NAMESPACE],  # type: ignore[list-item]
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Ada Lovelace"}],
    )
    assert follow.output_text == "Found Ada Lovelace."
    bodies = upstream_requests(fake)
    assert [t["function"]["name"] for t in bodies[0]["tools"]] == ["crm__find"]
    assert bodies[1]["messages"][1]["tool_calls"][0]["function"]["name"] == "crm__find"


def test_client_tool_search_loads_deferred_tools(strict_server: Server, fake: Process) -> None:
    """Codex: `tool_search` (client), tools with `defer_loading`, `additional_tools` items."""
    client = strict_server.client()
    deferred = {
        "type": "function",
        "name": "lookup",
        "defer_loading": True,
        "parameters": {"type": "object", "properties": {}},
    }
    search = {"type": "tool_search", "execution": "client", "description": "Find tools."}
    extra = {"type": "additional_tools", "role": "developer", "tools": [{"type": "function", "name": "ping"}]}
    prompt = script(
        {"calls": [{"name": "tool_search", "arguments": {"query": "lookup"}}]},
        {"calls": [{"name": "lookup", "arguments": {}}]},
    )
    first = client.responses.create(
        model="gpt-4o",
        input=[extra, {"role": "user", "content": prompt}],
        tools=[deferred, search],
        store=False,  # type: ignore[list-item]
    )
    (call,) = first.output
    assert (
        call.type == "tool_search_call"
        and call.arguments == {"query": "lookup"}
        and call.execution == "client"
    )
    offered = [t["function"]["name"] for t in upstream_requests(fake)[0]["tools"]]
    assert offered == ["tool_search", "ping"]  # `lookup` waits for a search to load it
    loaded = {
        "type": "tool_search_output",
        "call_id": call.call_id,
        "execution": "client",
        "status": "completed",
        "tools": [{**deferred}],
    }
    second = client.responses.create(
        model="gpt-4o",
        input=[extra, {"role": "user", "content": prompt}, call.model_dump(exclude_none=True), loaded],  # type: ignore[list-item]
        tools=[deferred, search],  # type: ignore[list-item]
        store=False,
    )
    assert second.output[0].type == "function_call" and second.output[0].name == "lookup"  # type: ignore[union-attr]
    body = upstream_requests(fake)[1]
    # A loaded tool goes after the tools offered so far (the prompt's cached prefix stays the same).
    assert [t["function"]["name"] for t in body["tools"]] == ["tool_search", "ping", "lookup"]
    assert body["messages"][1]["tool_calls"][0]["function"] == {
        "name": "tool_search",
        "arguments": '{"query": "lookup"}',
    }
    assert json.loads(body["messages"][2]["content"]) == {
        "loaded_tools": [{"name": "lookup", "description": None}]
    }


def test_item_references_resolve_to_stored_items(strict_server: Server, fake: Process) -> None:
    """The AI SDK with `store` on sends earlier output items back as references."""
    client = strict_server.client()
    first = client.responses.create(model="gpt-4o", input=script({"say": "Hi Ada."}, text="I am Ada."))
    second = client.responses.create(
        model="gpt-4o",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "I am Ada."}]},
            {"type": "item_reference", "id": first.output[0].id},  # type: ignore[typeddict-item]
            {"role": "user", "content": "Who am I?"},
        ],
    )
    assert second.status == "completed"
    messages = upstream_requests(fake)[1]["messages"]
    assert messages[1] == {"role": "assistant", "content": [{"type": "text", "text": "Hi Ada."}]}
    # An id the client chose is indexed when stored; one Responsa made carries its response's id.
    given = client.responses.create(
        model="gpt-4o",
        input=[{"type": "message", "role": "user", "id": "msg_client_1", "content": "Remember me."}],
    )
    assert ids.belongs_to(given.output[0].id, given.id) and not ids.belongs_to("msg_client_1", given.id)
    client.responses.create(model="gpt-4o", input=[{"type": "item_reference", "id": "msg_client_1"}])  # type: ignore[typeddict-item]
    stored_shape = [{"role": "user", "content": [{"type": "text", "text": "Remember me."}]}]
    assert upstream_requests(fake)[-1]["messages"] == stored_shape  # as input_items shows it
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-4o", input=[{"type": "item_reference", "id": "msg_nope"}])  # type: ignore[typeddict-item]
    assert info.value.body["param"] == "input[0].id"  # type: ignore[index]


def test_refusal_in_history_is_accepted(strict_server: Server, fake: Process) -> None:
    """LangChain replays the model's refusal; a conversation holding one keeps working."""
    client = strict_server.client()
    conversation = client.conversations.create()
    refused = client.responses.create(
        model="gpt-4o", input=script({"refuse": "I can't."}), conversation=conversation.id
    )
    assert refused.output[0].content[0].type == "refusal"  # type: ignore[union-attr]
    again = client.responses.create(model="gpt-4o", input="Then say hi.", conversation=conversation.id)
    assert again.status == "completed"
    messages = upstream_requests(fake)[1]["messages"]
    assert messages[1] == {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]}
    replayed = client.responses.create(
        model="gpt-4o",
        input=[
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
            {"role": "user", "content": "ok"},
        ],
        store=False,
    )
    assert replayed.status == "completed"


def test_reasoning_items_events_and_next_turn(strict_server: Server, fake: Process) -> None:
    client = strict_server.client()
    prompt = script({"reason": "Let me think.", "say": "Four."})
    events = list(
        client.responses.create(model="gpt-4o", input=prompt, reasoning={"summary": "auto"}, stream=True)
    )
    types = [e.type for e in events]
    assert types.index("response.reasoning_text.delta") < types.index("response.output_text.delta")
    reasoning_text = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
    summary = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    assert reasoning_text == summary == "Let me think."
    final = events[-1].response
    item, message = final.output
    assert item.type == "reasoning" and item.content[0].text == "Let me think."  # type: ignore[union-attr,index]
    assert item.summary[0].text == "Let me think." and message.content[0].text == "Four."  # type: ignore[union-attr]
    assert [e.output_index for e in events if e.type == "response.output_item.done"] == [0, 1]
    client.responses.create(model="gpt-4o", input="And?", previous_response_id=final.id)
    previous = upstream_requests(fake)[1]["messages"][1]
    assert previous == {"role": "assistant", "content": "Four.", "reasoning_content": "Let me think."}


def test_encrypted_reasoning_for_stateless_clients(strict_server: Server, fake: Process) -> None:
    """Codex and LangChain-ZDR: store=false + include reasoning.encrypted_content."""
    client = strict_server.client()
    prompt = script({"reason": "Secret plan.", "reasoning_key": "reasoning", "say": "Done."})
    first = client.responses.create(
        model="gpt-4o", input=prompt, store=False, include=["reasoning.encrypted_content"]
    )
    item = first.output[0]
    assert item.type == "reasoning" and item.encrypted_content and "Secret" not in item.encrypted_content
    history = [
        {"role": "user", "content": prompt},
        item.model_dump(exclude_none=True),
        first.output[1].model_dump(exclude_none=True),
    ]
    client.responses.create(
        model="gpt-4o", input=[*history, {"role": "user", "content": "Next."}], store=False
    )  # type: ignore[list-item]
    sent = upstream_requests(fake)[1]["messages"][1]
    assert sent["reasoning"] == "Secret plan." and sent["content"] == [{"type": "text", "text": "Done."}]
    tampered = {**history[1], "encrypted_content": item.encrypted_content[:-4] + "AAAA"}
    foreign = {**history[1], "encrypted_content": "gAAAAABforeign"}
    for bad in (tampered, foreign):
        with pytest.raises(openai.BadRequestError) as info:
            client.responses.create(
                model="gpt-4o", input=[history[0], bad, {"role": "user", "content": "x"}], store=False
            )  # type: ignore[list-item]
        assert info.value.body["param"] == "input[1].encrypted_content"  # type: ignore[index]


def test_phase_is_kept_not_forwarded(strict_server: Server, fake: Process) -> None:
    client = strict_server.client()
    first = client.responses.create(
        model="gpt-4o",
        input=[
            {"role": "user", "content": "hi"},
            {
                "type": "message",
                "role": "assistant",
                "phase": "commentary",
                "content": [{"type": "output_text", "text": "Looking."}],
            },  # type: ignore[list-item]
            {"role": "user", "content": "go on"},
        ],
    )
    items = client.responses.input_items.list(first.id, order="asc").data
    assert items[1].phase == "commentary"  # type: ignore[union-attr]
    assert "phase" not in upstream_requests(fake)[0]["messages"][1]


def test_hosted_tools_the_server_cannot_run_are_left_out(strict_server: Server, fake: Process) -> None:
    response = strict_server.client().responses.create(
        model="gpt-4o",
        input=script({"say": "ok"}),
        tools=[{"type": "web_search", "external_web_access": False}, {"type": "image_generation"}],  # type: ignore[list-item]
    )
    assert response.status == "completed"
    assert "tools" not in upstream_requests(fake)[0]


def test_rate_limit_keeps_status_and_retry_after(live_server: Server) -> None:
    for stream in (False, True):
        resp = HTTP.post(
            live_server.url + "/v1/responses", json={"model": "rate-limited", "input": "x", "stream": stream}
        )
        assert resp.status_code == 429 and resp.headers["retry-after"] == "7"
        assert resp.headers["x-should-retry"] == "true"
        assert resp.json()["error"]["code"] == "rate_limit_exceeded"


def test_compressed_bodies(live_server: Server) -> None:
    raw = json.dumps({"model": "openai/gpt-4o", "input": "hi"}).encode()
    resp = HTTP.post(
        live_server.url + "/v1/responses",
        content=zstandard.ZstdCompressor().compress(raw),
        headers={"content-type": "application/json", "content-encoding": "zstd"},
    )
    assert resp.status_code == 200 and resp.json()["status"] == "completed"
    bad = HTTP.post(
        live_server.url + "/v1/responses",
        content=b"not zstd",
        headers={"content-encoding": "zstd", "content-type": "application/json"},
    )
    assert bad.status_code == 400
