"""Retries never run a turn twice: `Idempotency-Key` gives one response per key, and a
non-streaming request whose client left is cancelled, so the SDK's own retries (which carry no
key) leave one turn in the conversation."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

import httpx
import openai
import pytest

from tests.support import HTTP, Process, Server, upstream_requests


def create(server: Server, key: str | None, timeout: float = 30, **body: Any) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return HTTP.post(f"{server.url}/v1/responses", json=body, headers=headers, timeout=timeout)


def turns(server: Server, conversation_id: str) -> list[str]:
    items = server.client().conversations.items.list(conversation_id, order="asc", limit=100).data
    return [item.content[0].text for item in items if item.type == "message" and item.role == "user"]  # type: ignore[union-attr]


def test_same_key_same_answer_one_run(live_server: Server, fake: Process) -> None:
    key = secrets.token_hex(8)
    body = {"model": "openai/gpt-4o", "input": f"once {key}"}
    first = create(live_server, key, **body)
    again = create(live_server, key, **body)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert len(upstream_requests(fake)) == 1

    other = create(live_server, key, **{**body, "input": "something else"})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    # keys belong to their owner's namespace only; another key runs anew
    assert create(live_server, key + "x", **body).json()["id"] != first.json()["id"]

    assert create(live_server, "x" * 256, **body).status_code == 400


def test_concurrent_repeats_wait_for_the_first(live_server: Server, fake: Process) -> None:
    key = secrets.token_hex(8)
    body = {"model": "openai/slow", "input": f"concurrent {key}"}
    answers: list[httpx.Response] = []
    threads = [
        threading.Thread(target=lambda: answers.append(create(live_server, key, **body))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(upstream_requests(fake)) == 1


def test_background_and_stream_repeats(live_server: Server, fake: Process) -> None:
    key = secrets.token_hex(8)
    body = {"model": "openai/gpt-4o", "input": f"bg {key}", "background": True}
    queued = create(live_server, key, **body).json()
    assert create(live_server, key, **body).json()["id"] == queued["id"]

    stream_key = secrets.token_hex(8)
    streamed = {"model": "openai/gpt-4o", "input": f"stream {stream_key}", "stream": True}
    with HTTP.stream(
        "POST", f"{live_server.url}/v1/responses", json=streamed, headers={"Idempotency-Key": stream_key}
    ) as resp:
        assert resp.status_code == 200
        assert any("response.completed" in line for line in resp.iter_lines())
    repeat = create(live_server, stream_key, **streamed)  # a stream is not sent twice
    assert repeat.status_code == 409 and "resp_" in repeat.json()["error"]["message"]


def test_a_client_that_left_gives_the_key_back(live_server: Server, fake: Process) -> None:
    """The first try times out (the client closes the connection): the server cancels it and
    frees the key, so the retry with the same key runs, and the conversation gets one turn."""
    client = live_server.client()
    conversation = client.conversations.create()
    key = secrets.token_hex(8)
    body = {"model": "openai/slow-once", "input": f"retry {key}", "conversation": conversation.id}
    with pytest.raises(httpx.ReadTimeout):
        create(live_server, key, timeout=1, **body)
    time.sleep(0.5)
    retried = create(live_server, key, **body)
    assert retried.status_code == 200 and retried.json()["status"] == "completed"
    time.sleep(3)  # longer than the first try would have run
    assert turns(live_server, conversation.id) == [f"retry {key}"]


def test_sdk_retries_without_a_key_leave_one_turn(live_server: Server, fake: Process) -> None:
    """The SDK retries a timed-out request with no idempotency key of its own; the timed-out
    tries were cancelled when it closed their connections, so only the retry that answered
    ran to the end."""
    client = live_server.client().with_options(timeout=1.5, max_retries=2)
    conversation = client.conversations.create()
    text = f"sdk {secrets.token_hex(8)}"
    response = client.responses.create(model="openai/slow-once", input=text, conversation=conversation.id)
    assert response.status == "completed"
    time.sleep(3.5)
    assert turns(live_server, conversation.id) == [text]


def test_sdk_retries_that_all_time_out_leave_no_turn(live_server: Server, fake: Process) -> None:
    client = live_server.client().with_options(timeout=0.5, max_retries=1)
    conversation = client.conversations.create()
    with pytest.raises(openai.APITimeoutError):
        client.responses.create(model="openai/slow", input="never", conversation=conversation.id)
    time.sleep(2.5)  # longer than the slow answer takes
    assert turns(live_server, conversation.id) == []
    stored = HTTP.get(f"{live_server.url}/v1/responses", params={"limit": 5}).json()["data"]
    gone = [r for r in stored if r["status"] == "failed" and "disconnected" in r["error"]["message"]]
    assert len(gone) >= 2  # each try that was given up is stored as what it was
