"""Turns on the embedded local model (responsa/providers/local_queue.py) over HTTP: arrival
order, the bounded wait's 429, a client that leaves, and shutdown during a generation.

A long generation is one with `ignore_eos` (vLLM's option, taken by the local provider) and a
high cap: thousands of tokens, far more than the model decodes in the waits used here, so it
is still running while the test looks. No assertion is about time; the bounds on waits are
safety nets.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from responsa.config import local_model_available
from responsa.errors import UpstreamError
from responsa.providers.local_queue import ModelQueue
from tests.support import Server, start_server

MODEL = "local/smollm2-135m-instruct"
LONG = {"model": MODEL, "input": "Tell me a story.", "max_output_tokens": 3000, "ignore_eos": True}

pytestmark = pytest.mark.skipif(
    not local_model_available(),
    reason="the local model runtime is not installed (bash scripts/setup.sh installs it)",
)


def local_server(tmp: Path, name: str, **env: str) -> Server:
    # No OPENAI_API_KEY and no config: the embedded default. One thread: tests share the 2 cores.
    return start_server(tmp, name, {"RESPONSA_LOCAL_THREADS": "1", **env})


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Waits for the model at most 3 s: far less than a long generation takes."""
    server = local_server(tmp_path_factory.mktemp("busy"), "busy", RESPONSA_LOCAL_QUEUE_WAIT_S="3")
    yield server
    server.stop()


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines():
        if line.startswith("data: ") and line != "data: [DONE]":
            yield json.loads(line[6:])


@contextmanager
def generating(server: Server, body: dict[str, Any]) -> Iterator[Iterator[dict[str, Any]]]:
    """A streamed response that has produced its first text delta (so it holds the model);
    its connection is closed on exit (its client leaves)."""
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", server.url + "/v1/responses", json={**body, "stream": True}) as response,
    ):
        assert response.status_code == 200, response.read()
        events = sse_events(response)
        for event in events:
            if event["type"] == "response.output_text.delta":
                break
        yield events


def test_full_queue_answers_429_with_retry_after_before_any_output(busy_server: Server) -> None:
    short = {"model": MODEL, "input": "Say hi", "max_output_tokens": 16}
    with generating(busy_server, LONG):
        for stream in (False, True):
            refused = httpx.post(
                busy_server.url + "/v1/responses", json={**short, "stream": stream}, timeout=30
            )
            assert refused.status_code == 429, refused.text  # a status, not an SSE stream
            assert int(refused.headers["retry-after"]) >= 1
            error = refused.json()["error"]
            assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
            assert "busy" in error["message"] and "RESPONSA_LOCAL_QUEUE_WAIT_S" in error["message"]


def test_a_client_that_leaves_frees_the_model(busy_server: Server) -> None:
    with generating(busy_server, LONG):
        pass  # left after the first delta, thousands of tokens early
    # The next request gets the model: still generating, it would answer this one with a 429.
    answer = busy_server.client().responses.create(model=MODEL, input="Say hi", max_output_tokens=16)
    assert answer.status in ("completed", "incomplete") and answer.output_text


def test_concurrent_streams_are_served_in_arrival_order(tmp_path: Path) -> None:
    with local_server(tmp_path, "order") as server:
        received: list[tuple[str, str]] = []  # (request, event type), in the order they arrive
        lock = threading.Lock()

        def stream(name: str, body: dict[str, Any]) -> None:
            with httpx.stream(
                "POST", server.url + "/v1/responses", json={**body, "stream": True}, timeout=60
            ) as response:
                for event in sse_events(response):
                    with lock:
                        received.append((name, event["type"]))

        def waiting(count: int) -> None:  # the server's log says so when a request queues
            deadline = time.monotonic() + 30
            while server.log.read_text().count("waits for its turn") < count:
                assert time.monotonic() < deadline, server.log_tail()
                time.sleep(0.05)

        first = {**LONG, "max_output_tokens": 300}  # still generating while the others queue
        short = {**LONG, "max_output_tokens": 16}
        threads = [
            threading.Thread(target=stream, args=(name, body))
            for name, body in (("A", first), ("B", short), ("C", short))
        ]
        threads[0].start()
        deadline = time.monotonic() + 30
        while ("A", "response.output_text.delta") not in received:
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.02)
        threads[1].start()
        waiting(1)
        threads[2].start()
        waiting(2)
        for thread in threads:
            thread.join(60)

    deltas = [name for name, kind in received if kind == "response.output_text.delta"]
    # one answer after the other, in arrival order: A's deltas, then B's, then C's
    assert deltas == sorted(deltas) and set(deltas) == {"A", "B", "C"}, deltas
    finals = [kind for _, kind in received if kind in ("response.completed", "response.incomplete")]
    assert len(finals) == 3


def test_shutdown_during_a_generation_exits_promptly(tmp_path: Path) -> None:
    server = local_server(tmp_path, "shutdown")
    try:
        with generating(server, LONG) as events:
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            rest = list(events)  # the stream ends, thousands of tokens early
            server.proc.wait(15)  # a safety net: without the stop, it would run for minutes
        assert rest[-1]["type"] == "response.failed", [e["type"] for e in rest[-3:]]
        assert "shutting down" in rest[-1]["response"]["error"]["message"]
        assert "Application shutdown complete" in server.log.read_text()  # graceful, not killed
        assert server.proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    finally:
        server.stop()


def test_turns_pass_in_arrival_order_and_skip_who_left() -> None:
    """The queue itself, without the model."""

    async def scenario() -> tuple[list[str], UpstreamError, UpstreamError]:
        queue = ModelQueue("local", wait_s=30)
        order: list[str] = []
        release = asyncio.Event()

        async def take(name: str) -> None:
            async with queue.turn():
                order.append(name)
                if name == "A":
                    await release.wait()

        first = asyncio.create_task(take("A"))
        await asyncio.sleep(0)  # A holds the model
        tasks = {name: asyncio.create_task(take(name)) for name in "BCD"}
        while queue.waiting < 3:
            await asyncio.sleep(0)
        tasks["C"].cancel()  # C's client left while it waited
        release.set()
        await asyncio.gather(first, tasks["B"], tasks["D"])

        impatient = ModelQueue("local", wait_s=0.01)
        held = asyncio.Event()

        async def hold() -> None:
            async with impatient.turn():
                held.set()
                await asyncio.sleep(3600)

        holder = asyncio.create_task(hold())
        await held.wait()
        with pytest.raises(UpstreamError) as busy:
            async with impatient.turn():
                pass
        impatient.close()  # shutdown: waiters and newcomers are refused
        with pytest.raises(UpstreamError) as closed:
            async with impatient.turn():
                pass
        holder.cancel()
        return order, busy.value, closed.value

    order, busy, closed = asyncio.run(scenario())
    assert order == ["A", "B", "D"]
    assert busy.status_code == 429 and busy.retry_after is not None and int(busy.retry_after) >= 1
    assert "shutting down" in closed.message
