"""Limits that keep one server healthy: large bodies take turns (`api/bodies.py`), a second
turn on a busy conversation waits only as long as configured."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from tests.support import HTTP, Process, start_server, upstream_env

LARGE_INPUT = "x" * (2 << 20)  # over the 1 MiB that makes a body large


def test_large_bodies_take_turns(tmp_path: Path, fake: Process) -> None:
    env = upstream_env(fake, RESPONSA_MAX_LARGE_BODIES="1", RESPONSA_LARGE_BODY_WAIT_S="0.5")
    with start_server(tmp_path, "bodies", env) as server:
        url = f"{server.url}/v1/responses"
        first: list[httpx.Response] = []
        holder = threading.Thread(
            target=lambda: first.append(HTTP.post(url, json={"model": "openai/slow", "input": LARGE_INPUT}))
        )
        holder.start()  # holds the one slot for the 2 s the slow model takes
        waited = None
        for _ in range(50):  # until the first one holds the slot
            waited = HTTP.post(url, json={"model": "openai/gpt-4o", "input": LARGE_INPUT})
            if waited.status_code == 429:
                break
        assert waited is not None and waited.status_code == 429
        assert waited.headers["retry-after"] == "1" and "large requests" in waited.json()["error"]["message"]
        # chunked bodies (no Content-Length) are counted as they arrive
        chunked = HTTP.post(
            url,
            content=iter([b'{"model": "openai/gpt-4o", "input": "', LARGE_INPUT.encode(), b'"}']),
            headers={"content-type": "application/json"},
        )
        assert chunked.status_code == 429
        small = HTTP.post(url, json={"model": "openai/gpt-4o", "input": "small"})
        assert small.status_code == 200  # small bodies never wait
        holder.join()
        assert first[0].status_code == 200
        assert HTTP.post(url, json={"model": "openai/gpt-4o", "input": LARGE_INPUT}).status_code == 200


def test_a_busy_conversation_refuses_after_the_turn_wait(tmp_path: Path, fake: Process) -> None:
    env = upstream_env(fake, RESPONSA_TURN_WAIT_S="0.3")
    with start_server(tmp_path, "turns", env) as server:
        conversation = server.client().conversations.create()
        url = f"{server.url}/v1/responses"
        body = {"model": "openai/slow", "input": "one", "conversation": conversation.id}
        first: list[httpx.Response] = []
        holder = threading.Thread(target=lambda: first.append(HTTP.post(url, json=body)))
        holder.start()
        refused = None
        for _ in range(50):
            refused = HTTP.post(url, json={**body, "model": "openai/gpt-4o", "input": "two"})
            if refused.status_code == 409:
                break
        holder.join()
        assert refused is not None and refused.status_code == 409
        assert "busy" in refused.json()["error"]["message"]
        assert first[0].status_code == 200
