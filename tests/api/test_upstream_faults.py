"""Misbehaving upstreams: an answer counts as finished only with a finish_reason; anything else
fails (502, `response.failed`) with the partial output kept, on JSON, SSE, background and the
chat pass-through. A whole JSON completion sent to a streaming request is read as what it is."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest

from tests.support import HTTP, RESPONSE_TABLES, Process, Server, rows_of, start_server, upstream_env

FAULTS = ["cut-short", "empty-200", "bad-chunk", "null-choice"]


@pytest.mark.parametrize("fault", FAULTS)
def test_unfinished_or_malformed_answers_fail_with_the_partial_output(
    live_server: Server, fault: str
) -> None:
    client = live_server.client()
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model=f"openai/{fault}", input="x")
    assert info.value.status_code == 502 and info.value.response.headers["x-should-retry"] == "true"
    stored = HTTP.get(live_server.url + "/v1/responses", params={"limit": 1}).json()["data"][0]
    assert stored["status"] == "failed" and stored["model"] == f"openai/{fault}"
    partial = "Partial answer" if fault != "empty-200" else None
    texts = [p["text"] for item in stored["output"] for p in item.get("content", [])]
    assert texts == ([partial] if partial else []), stored["output"]

    if not partial:  # nothing came: the stream never starts, the client gets the 502
        with pytest.raises(openai.APIStatusError) as info:
            list(client.responses.create(model=f"openai/{fault}", input="x", stream=True))
        assert info.value.status_code == 502
        return
    events = list(client.responses.create(model=f"openai/{fault}", input="x", stream=True))
    # Output had started: the stream ends failed with it, never completed.
    assert events[-1].type == "response.failed" and events[-1].response.output[0].status == "incomplete"
    assert "response.completed" not in [e.type for e in events]


def test_a_background_answer_cut_short_fails(live_server: Server) -> None:
    client = live_server.client()
    queued = client.responses.create(model="openai/cut-short", input="x", background=True)
    deadline = time.monotonic() + 30
    while (
        client.responses.retrieve(queued.id).status in ("queued", "in_progress")
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    final = client.responses.retrieve(queued.id)
    assert final.status == "failed" and final.output[0].content[0].text == "Partial answer"  # type: ignore[union-attr]


def test_a_json_answer_to_a_streaming_request_is_used(live_server: Server) -> None:
    client = live_server.client()
    response = client.responses.create(model="openai/json-answer", input="x")
    assert response.status == "completed" and response.output_text == "Whole answer."
    assert response.usage is not None and response.usage.total_tokens == 5


def test_chat_pass_through_does_not_pass_a_cut_stream_as_success(live_server: Server) -> None:
    body = {"model": "openai/cut-short", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    frames = HTTP.post(live_server.url + "/v1/chat/completions", json=body).text.split("\n\n")
    assert '"error"' in frames[-3] and "no finish_reason" in frames[-3]


def test_delete_during_a_running_job_is_final(live_server: Server, db_url: str) -> None:
    client = live_server.client()
    queued = client.responses.create(model="openai/slow", input="x", background=True)
    deadline = time.monotonic() + 30
    while client.responses.retrieve(queued.id).status == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.responses.retrieve(queued.id).status == "in_progress"
    client.responses.delete(queued.id)
    # Let the job's upstream answer (2 s) run out: its final save must not bring the response back.
    time.sleep(3)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(queued.id)
    assert rows_of(db_url, queued.id) == dict.fromkeys(RESPONSE_TABLES, 0)


def test_a_silent_upstream_times_out_by_the_environment_setting(
    tmp_path: Path, fake_upstream: Process
) -> None:
    env = upstream_env(fake_upstream, RESPONSA_UPSTREAM_READ_TIMEOUT_S="0.5")
    with start_server(tmp_path, "timeouts", env) as server:
        with pytest.raises(openai.APIStatusError) as info:
            server.client().responses.create(model="openai/hang", input="x")
        assert info.value.status_code == 502 and "timed out" in info.value.message
        assert server.client().responses.create(model="openai/gpt-4o", input="x").status == "completed"


def test_an_upstream_call_has_a_total_timeout(tmp_path: Path, fake_upstream: Process) -> None:
    """The slow model is never silent for long, but takes 2 s in all: over the total limit."""
    env = upstream_env(fake_upstream, RESPONSA_UPSTREAM_TOTAL_TIMEOUT_S="0.7")
    with start_server(tmp_path, "total", env) as server:
        events = list(server.client().responses.create(model="openai/slow", input="x", stream=True))
        failed = events[-1]
        assert failed.type == "response.failed"
        assert failed.response.error is not None and "timed out" in failed.response.error.message
        assert failed.response.output[0].content[0].text.startswith("tick0 ")  # type: ignore[union-attr]
        assert server.client().responses.create(model="openai/gpt-4o", input="x").status == "completed"
