"""Streaming: framing, event order, sequence numbers, usage, and failures mid-stream."""

from __future__ import annotations

import time
from typing import Any

import openai
import orjson

from tests.support import HTTP, Process, Server, upstream_requests

TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def raw_sse(server: Server, body: dict[str, Any]) -> tuple[bytes, list[dict[str, Any]]]:
    """POST a streaming request and parse the frames by hand (no SDK leniency)."""
    with HTTP.stream("POST", server.url + "/v1/responses", json={**body, "stream": True}, timeout=30) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = resp.read()
    frames = raw.split(b"\n\n")
    assert frames[-1] == b"", "stream must end with a blank line"
    assert frames[-2] == b"data: [DONE]"
    events = []
    for block in frames[:-2]:
        lines = block.split(b"\n")
        assert len(lines) == 2 and lines[0].startswith(b"event: ") and lines[1].startswith(b"data: "), block
        event = orjson.loads(lines[1][6:])
        assert lines[0][7:].decode() == event["type"]
        events.append(event)
    assert b"\r" not in raw
    return raw, events


def test_event_order_and_sequence_numbers(live_server: Server) -> None:
    _, events = raw_sse(live_server, {"model": "openai/gpt-4o", "input": "hi"})
    assert [e["type"] for e in events] == TEXT_EVENTS
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == "Hello from gpt-4o!"
    done = next(e for e in events if e["type"] == "response.output_text.done")
    assert done["text"] == deltas
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["completed_at"] is not None
    assert final["output"][0]["content"][0]["text"] == deltas
    assert final["usage"] == {
        "input_tokens": 11,
        "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 2},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 16,
    }
    item_ids = {e["item_id"] for e in events if "item_id" in e}
    assert item_ids == {final["output"][0]["id"]}
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["output"] == []


def test_sdk_parses_every_event(live_server: Server) -> None:
    client = live_server.client()
    events = list(
        client.responses.create(model="openai/gpt-4o", input="hi", stream=True, instructions="Be brief.")
    )
    assert [e.type for e in events] == TEXT_EVENTS
    final = events[-1].response
    assert final.instructions == "Be brief."
    stored = client.responses.retrieve(final.id)
    assert stored.output_text == "Hello from gpt-4o!"
    assert stored.status == "completed"


def test_upstream_body_for_streaming_and_not(live_server: Server, fake_upstream: Process) -> None:
    client = live_server.client()
    HTTP.delete(fake_upstream.url + "/fake/requests")
    client.responses.create(
        model="openai/gpt-4o",
        input="one",
        instructions="sys",
        temperature=0.5,
        max_output_tokens=20000,
        metadata={"k": "v"},
        store=False,
    )
    list(client.responses.create(model="openai/gpt-4o", input="two", stream=True, top_p=0.25))
    first, second = upstream_requests(fake_upstream)
    assert first == {
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "one"}],
        "max_completion_tokens": 16384,  # clamped to gpt-4o's ceiling
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.5,
    }
    assert second == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "two"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "top_p": 0.25,
    }


def test_failure_mid_stream_ends_with_response_failed(live_server: Server) -> None:
    _, events = raw_sse(live_server, {"model": "openai/fail-midstream", "input": "hi"})
    types = [e["type"] for e in events]
    assert types[0] == "response.created" and types[-1] == "response.failed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert "response.output_text.delta" in types
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "server_error" and failed["error"]["message"]
    assert failed["output"][0]["status"] == "incomplete"
    stored = live_server.client().responses.retrieve(failed["id"])
    assert stored.status == "failed"
    assert stored.error is not None and stored.error.message == failed["error"]["message"]


def test_upstream_refusal_before_stream_is_an_http_error(live_server: Server) -> None:
    """The upstream says 400 before any output: the stream never starts, the client gets the
    upstream's status and error (as OpenAI answers), and the stored response says failed."""
    resp = HTTP.post(
        live_server.url + "/v1/responses", json={"model": "openai/bad-request", "input": "hi", "stream": True}
    )
    assert resp.status_code == 400 and resp.headers["content-type"].startswith("application/json")
    assert resp.json()["error"] == {
        "message": "Invalid base64 image_url.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_base64",
    }
    stored = HTTP.get(live_server.url + "/v1/responses", params={"limit": 1}).json()["data"][0]
    assert stored["status"] == "failed" and stored["error"]["code"] == "invalid_base64_image"


def test_length_finish_is_incomplete(live_server: Server) -> None:
    client = live_server.client()
    events = list(client.responses.create(model="openai/length", input="hi", stream=True))
    assert events[-1].type == "response.incomplete"
    final = events[-1].response
    assert final.status == "incomplete"
    assert final.incomplete_details is not None and final.incomplete_details.reason == "max_output_tokens"
    assert final.output[0].status == "incomplete"  # type: ignore[union-attr]


def test_refusal_is_streamed_as_refusal(live_server: Server) -> None:
    client = live_server.client()
    events = list(client.responses.create(model="openai/refusal", input="hi", stream=True))
    types = [e.type for e in events]
    assert "response.refusal.delta" in types and "response.refusal.done" in types
    done = next(e for e in events if e.type == "response.refusal.done")
    assert done.refusal == "I can't help with that."
    part = events[-1].response.output[0].content[0]  # type: ignore[union-attr]
    assert part.type == "refusal" and part.refusal == "I can't help with that."


def test_client_disconnect_stores_a_failed_response(live_server: Server) -> None:
    with HTTP.stream(
        "POST",
        live_server.url + "/v1/responses",
        timeout=30,
        json={"model": "openai/slow", "input": "hi", "stream": True},
    ) as resp:
        for line in resp.iter_lines():
            if line.startswith("data: "):
                response_id = orjson.loads(line[6:])["response"]["id"]
                break
    client = live_server.client()
    for _ in range(200):  # the server stores it once it notices the disconnect
        try:
            stored = client.responses.retrieve(response_id)
            break
        except openai.NotFoundError:
            time.sleep(0.05)
    assert stored.status == "failed"
    assert stored.error is not None and "disconnected" in stored.error.message
