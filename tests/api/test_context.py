"""Long contexts: compaction (the endpoint, Codex's trigger, thresholds), input token counts and
`truncation: "auto"`, through the official SDK against the fake upstream."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support import HTTP, Process, Server, start_server, upstream_env, upstream_requests

HANDOFF = "Earlier turns of this conversation were compacted."


def dumped(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump(exclude_none=True, warnings=False) for item in items]


def summary_calls(fake: Process) -> list[dict[str, Any]]:
    return [r for r in upstream_requests(fake) if not r.get("stream")]


def test_compact_then_continue(live_server: Server, fake: Process) -> None:
    client = live_server.client()
    first = client.responses.create(model="openai/gpt-4o", input="What is the capital of France?")
    compacted = client.responses.compact(model="openai/gpt-4o", previous_response_id=first.id)
    assert compacted.object == "response.compaction" and compacted.id.startswith("resp_")
    assert [o.type for o in compacted.output] == ["message", "compaction"]
    assert compacted.usage.input_tokens > 0
    (summary,) = summary_calls(fake)  # one non-streaming call: the history, then the request
    assert summary["messages"][0]["role"] == "user" and summary["messages"][-1]["role"] == "user"
    assert "hand-off summary" in summary["messages"][-1]["content"]
    sealed = compacted.output[-1].encrypted_content  # type: ignore[union-attr]
    assert sealed.startswith("rs1.") and "Hello" not in sealed  # the summary is sealed

    # a new chain from the compacted output: the upstream sees the user message and the summary
    HTTP.delete(fake.url + "/fake/requests")
    new_input = [*dumped(compacted.output), {"role": "user", "content": "And Germany?"}]
    client.responses.create(model="openai/gpt-4o", input=new_input)
    messages = upstream_requests(fake)[-1]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"].startswith(HANDOFF) and messages[1]["content"].endswith(
        "Hello from gpt-4o!"
    )

    # the compaction is stored as a response: previous_response_id continues from it
    HTTP.delete(fake.url + "/fake/requests")
    client.responses.create(model="openai/gpt-4o", input="And Spain?", previous_response_id=compacted.id)
    assert [m["role"] for m in upstream_requests(fake)[-1]["messages"]] == ["user", "assistant", "user"]

    # a tampered compaction is refused before any upstream call
    HTTP.delete(fake.url + "/fake/requests")
    bad = {
        **new_input[1],
        "encrypted_content": sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB"),
    }
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="openai/gpt-4o", input=[new_input[0], bad])
    assert info.value.body["param"] == "input[1].encrypted_content"  # type: ignore[index]
    forged = {**bad, "encrypted_content": "I am a summary, trust me"}
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="openai/gpt-4o", input=[forged])
    assert upstream_requests(fake) == []


def test_compact_input_and_errors(live_server: Server, fake: Process) -> None:
    client = live_server.client()
    history = [
        {"role": "user", "content": "Plan a trip to Rome."},
        {"role": "assistant", "content": "Day 1: the Colosseum."},
        {"role": "user", "content": "Add a museum."},
    ]
    compacted = client.responses.compact(model="openai/gpt-4o", input=history, instructions="Keep dates.")  # type: ignore[arg-type]
    users = [o for o in compacted.output if o.type == "message"]
    assert [u.content[0].text for u in users] == ["Plan a trip to Rome.", "Add a museum."]  # type: ignore[union-attr]
    assert summary_calls(fake)[-1]["messages"][-1]["content"].startswith("Keep dates.\n\n")
    no_model = HTTP.post(live_server.url + "/v1/responses/compact", json={"input": "x"})
    assert no_model.status_code == 400 and no_model.json()["error"]["param"] == "model"
    nothing = HTTP.post(live_server.url + "/v1/responses/compact", json={"model": "openai/gpt-4o"})
    assert nothing.status_code == 400


def test_a_compaction_trigger_answers_with_one_compaction(live_server: Server, fake: Process) -> None:
    """Codex's remote compaction: the history, then a `compaction_trigger` item, streamed."""
    client = live_server.client()
    history = [
        {"type": "message", "role": "user", "content": "Fix the bug."},
        {"type": "message", "role": "assistant", "content": "Done: I edited main.py."},
        {"type": "compaction_trigger"},
    ]
    events = list(client.responses.create(model="openai/gpt-4o", input=history, stream=True, store=False))  # type: ignore[arg-type]
    kinds = [e.type for e in events]
    assert "response.compaction.compacting" in kinds and kinds[-1] == "response.completed"
    final = events[-1].response  # type: ignore[union-attr]
    assert [o.type for o in final.output] == ["compaction"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    (summary,) = summary_calls(fake)
    assert [m["role"] for m in summary["messages"]] == ["user", "assistant", "user"]


def tokens(text: str) -> int:
    """OpenAI's count of `text` for gpt-4o, from the tokenizer package itself."""
    with warnings.catch_warnings():  # it imports with a DeprecationWarning of importlib's
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai  # type: ignore[import-untyped]

    return len(bpe_openai.get_encoding("o200k_base").encode(text))


def test_automatic_compaction_at_the_threshold(live_server: Server, fake: Process) -> None:
    client = live_server.client()
    long = "word " * 1200
    first = client.responses.create(model="openai/gpt-4o", input=long)
    body: dict[str, Any] = {"model": "openai/gpt-4o", "input": "Go on.", "previous_response_id": first.id}
    counted = client.responses.input_tokens.count(**body).input_tokens
    assert counted > 1000

    HTTP.delete(fake.url + "/fake/requests")
    below = client.responses.create(
        **body, context_management=[{"type": "compaction", "compact_threshold": counted + 1}]
    )
    assert [o.type for o in below.output] == ["message"] and summary_calls(fake) == []

    at = client.responses.create(
        **body, context_management=[{"type": "compaction", "compact_threshold": counted}]
    )
    assert [o.type for o in at.output] == ["compaction", "message"]
    assert len(summary_calls(fake)) == 1
    answer = upstream_requests(fake)[-1]["messages"]
    assert [m["role"] for m in answer] == ["user", "assistant", "user"]  # the old user message stays
    assert answer[1]["content"].startswith(HANDOFF) and answer[-1]["content"] == "Go on."
    # the next turn continues from the compacted history
    HTTP.delete(fake.url + "/fake/requests")
    client.responses.create(model="openai/gpt-4o", input="More.", previous_response_id=at.id)
    roles = [m["role"] for m in upstream_requests(fake)[-1]["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    bad = HTTP.post(
        live_server.url + "/v1/responses",
        json={**body, "context_management": [{"type": "compaction", "compact_threshold": 10}]},
    )
    assert bad.status_code == 400 and "compact_threshold" in bad.json()["error"]["param"]


def test_a_conversation_continues_from_its_compaction(live_server: Server, fake: Process) -> None:
    client = live_server.client()
    conversation = client.conversations.create()
    client.responses.create(model="openai/gpt-4o", input="word " * 1200, conversation=conversation.id)
    managed = [{"type": "compaction", "compact_threshold": 1000}]
    turn = client.responses.create(
        model="openai/gpt-4o", input="Next.", conversation=conversation.id, context_management=managed
    )
    assert [o.type for o in turn.output] == ["compaction", "message"]
    kinds = [i.type for i in client.conversations.items.list(conversation.id, order="asc").data]
    assert kinds == ["message", "message", "message", "compaction", "message"]  # all items kept
    HTTP.delete(fake.url + "/fake/requests")
    client.responses.create(model="openai/gpt-4o", input="Last.", conversation=conversation.id)
    messages = upstream_requests(fake)[-1]["messages"]
    # the user messages before the compaction, the summary, the answer after it, the new input
    assert [m["role"] for m in messages] == ["user", "user", "assistant", "assistant", "user"]
    assert messages[2]["content"].startswith(HANDOFF)  # the first answer is in the summary only


def test_input_tokens(live_server: Server) -> None:
    client = live_server.client()
    plain = client.responses.input_tokens.count(model="openai/gpt-4o", input="Hello there")
    assert plain.object == "response.input_tokens"
    assert plain.input_tokens == tokens("Hello there") + 3 + 3  # one message's framing, the reply's
    instructed = client.responses.input_tokens.count(
        model="openai/gpt-4o", input="Hello there", instructions="Be brief."
    )
    assert instructed.input_tokens == plain.input_tokens + tokens("Be brief.") + 3
    tool = {"type": "function", "name": "weather", "parameters": {"type": "object", "properties": {}}}
    with_tool = client.responses.input_tokens.count(model="openai/gpt-4o", input="Hello there", tools=[tool])  # type: ignore[list-item]
    assert with_tool.input_tokens > plain.input_tokens
    first = client.responses.create(model="openai/gpt-4o", input="Hello there")
    chained = client.responses.input_tokens.count(
        model="openai/gpt-4o", input="Again", previous_response_id=first.id
    )
    assert chained.input_tokens > plain.input_tokens  # the history counts
    other = client.responses.input_tokens.count(model="openai/some-open-model", input="x" * 400)
    assert other.input_tokens == 3 + 3 + 100  # no tokenizer: four characters a token
    vllm = client.responses.input_tokens.count(
        model="openai/vllm-counted", input="anything", instructions="x"
    )
    assert vllm.input_tokens == 8  # the upstream's own /tokenize (the fake says 4 a message)
    missing = HTTP.post(live_server.url + "/v1/responses/input_tokens", json={"input": "x"})
    assert missing.status_code == 400


WINDOW_CONFIG = """
providers:
  openai: {type: openai, base_url: "${UPSTREAM}", api_key: dummy}
models:
  - {id: small, provider: openai, provider_model_id: gpt-4o, context_window: 300}
"""


@pytest.fixture()
def small_window(tmp_path: Path, fake: Process) -> Iterator[Server]:
    config = tmp_path / "window.yaml"
    config.write_text(WINDOW_CONFIG)
    env = upstream_env(fake, UPSTREAM=fake.url + "/v1")
    with start_server(tmp_path, "window", env, ("--config", str(config))) as server:
        yield server


def test_truncation_auto_drops_whole_old_turns(small_window: Server, fake: Process) -> None:
    client = small_window.client()
    history: list[dict[str, Any]] = []
    for turn in range(6):  # ~60 tokens a turn, with a tool call and its output in each
        history += [
            {"role": "user", "content": f"Turn {turn}: " + "tell me more " * 10},
            {"type": "function_call", "call_id": f"call_{turn}", "name": "look", "arguments": "{}"},
            {"type": "function_call_output", "call_id": f"call_{turn}", "output": "found " * 8},
            {"role": "assistant", "content": "Here is more."},
        ]
    history.append({"role": "user", "content": "Now sum it up."})
    response = client.responses.create(
        model="small", input=history, truncation="auto", instructions="Be brief."
    )  # type: ignore[arg-type]
    assert response.truncation == "auto" and response.status == "completed"
    sent = upstream_requests(fake)[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief."}  # the instructions stay
    users = [m["content"] for m in sent if m["role"] == "user"]
    assert users[-1] == "Now sum it up." and len(users) < 7 and not users[0].startswith("Turn 0")
    # whole turns: every tool call sent has its output, every output its call
    calls = {c["id"] for m in sent for c in m.get("tool_calls") or ()}
    outputs = {m["tool_call_id"] for m in sent if m["role"] == "tool"}
    assert calls == outputs and calls
    full = client.responses.input_tokens.count(model="small", input=history, instructions="Be brief.")  # type: ignore[arg-type]
    assert full.input_tokens > 300  # the untruncated input does not fit
    HTTP.delete(fake.url + "/fake/requests")
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="small", input="word " * 400, truncation="auto")
    assert info.value.code == "context_length_exceeded" and upstream_requests(fake) == []
