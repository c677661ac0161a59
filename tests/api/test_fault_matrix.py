"""Every upstream fault on every path: nothing lost, nothing fake.

The fake upstream (tests/fake_upstream.py) misbehaves by model name; each fault runs on each
path a client can take:

    json        POST /v1/responses                      the HTTP status, or the final response
    sse         POST /v1/responses, stream: true        the HTTP status (refused before any
                                                        output), or a well-formed stream ending
                                                        in the right terminal event
    background  POST /v1/responses, background: true    then the stored events streamed back
    background-sse  the same with stream: true          the events streamed while the job runs
    chat-json   POST /v1/chat/completions               the HTTP status, or the completion
    chat-sse    POST /v1/chat/completions, stream: true the HTTP status, or `data:` frames ending
                                                        in an error frame or a finish_reason

Each cell checks what the client saw, what was stored (`GET /v1/responses/{id}` says the same,
with the partial output of a failed answer), and that the server is healthy afterwards. One
server per database (SQLite, and PostgreSQL with RESPONSA_TEST_POSTGRES_URL) serves the module,
its upstream read timeout short (1 s) so that silence fails fast and slow-but-steady streams
still finish.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import HTTP, Process, Server, new_database, start_server, upstream_env

READ_TIMEOUT_S = "1"
PARTIAL = "Partial answer"
BAD = "sent a malformed answer"
TIMED_OUT = "timed out: no answer within its timeout"
PAGE_SECRET = "secret-internal-host"  # in the fake's HTML error page: never shown to clients


@dataclass(frozen=True)
class Fault:
    """What a fault should come to on each path.

    `status` is the HTTP error a client gets when the upstream fails before any output (None:
    it does not); `partial` the text kept when output had started; `text` the answer of a
    finished one; `chat_status` the pass-through's error status (None: it answers, or, once
    its stream started, ends with an error frame when `chat_frame_error`)."""

    outcome: str  # completed | incomplete | failed
    status: int | None = None
    message: str = ""
    partial: str | None = None
    text: str | None = None
    code: str = "server_error"
    chat_status: int | None = None
    chat_frame_error: bool = False
    chat_json_message: str | None = None  # when the non-streaming pass-through's differs


FAULTS: dict[str, Fault] = {
    "gpt-4o": Fault("completed", text="Hello from gpt-4o!"),
    "length": Fault("incomplete", text="Hello from length!"),
    "slow-pauses": Fault("completed", text="slow tick0 tick1 tick2 "),
    "json-answer": Fault("completed", text="Whole answer."),
    "rate-limited": Fault("failed", 429, "Rate limit reached.", code="rate_limit_exceeded", chat_status=429),
    "server-error": Fault("failed", 502, "upstream exploded", chat_status=502),
    "unavailable": Fault("failed", 502, "The engine is overloaded.", chat_status=502),
    "html-500": Fault("failed", 502, "HTTP 500", chat_status=502),
    "reset-early": Fault("failed", 502, "the connection was reset", chat_status=502),
    "reset-midstream": Fault(
        "failed", partial=PARTIAL, message="the connection ended before the answer did", chat_frame_error=True
    ),
    "cut-short": Fault(
        "failed", partial=PARTIAL, message="no finish_reason", chat_frame_error=True, chat_json_message=BAD
    ),
    "empty-200": Fault("failed", 502, "no finish_reason", chat_status=502, chat_json_message=BAD),
    "bad-chunk": Fault("failed", partial=PARTIAL, message="malformed", chat_frame_error=True),
    "null-choice": Fault("failed", partial=PARTIAL, message="malformed", chat_frame_error=True),
    "no-choices": Fault(
        "failed", partial=PARTIAL, message="no finish_reason", chat_frame_error=True, chat_json_message=BAD
    ),
    "hang": Fault("failed", 502, TIMED_OUT, chat_status=502),
    "hang-midstream": Fault("failed", partial=PARTIAL, message=TIMED_OUT, chat_frame_error=True),
}
PATHS = ["json", "sse", "background", "background-sse", "chat-json", "chat-sse"]
# Cells failing until their defect is fixed (xfail_strict: each must fail while it is listed).
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}
CELLS = [
    pytest.param(
        name,
        path,
        id=f"{name}-{path}",
        marks=[pytest.mark.xfail(reason=KNOWN_DEFECTS[name, path])] if (name, path) in KNOWN_DEFECTS else [],
    )
    for name in FAULTS
    for path in PATHS
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process
) -> Iterator[Server]:
    """A server of its own (no other server's workers take its jobs), on a database of its own."""
    tmp = tmp_path_factory.mktemp(f"faults-{request.param}")
    with new_database(request.param, tmp) as url:
        env = upstream_env(
            fake_upstream, RESPONSA_UPSTREAM_READ_TIMEOUT_S=READ_TIMEOUT_S, RESPONSA_DB_URL=url
        )
        with start_server(tmp, "faults", env) as started:
            yield started


# What a client reads -------------------------------------------------------------------------


def response_events(body: str) -> list[dict[str, Any]]:
    """A Responses stream's events, checked for framing: `event:` + `data:` frames whose types
    agree, consecutive sequence numbers from 0, one terminal event, last, then `data: [DONE]`."""
    frames = body.split("\n\n")
    assert frames[-1] == "" and frames[-2] == "data: [DONE]", frames[-3:]
    events = []
    for frame in frames[:-2]:
        head, data = frame.split("\n")
        assert head.startswith("event: ") and data.startswith("data: "), frame
        event = json.loads(data.removeprefix("data: "))
        assert event["type"] == head.removeprefix("event: ")
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    terminal = [e["type"] for e in events if e["type"] in TERMINAL]
    assert terminal == [events[-1]["type"]], terminal
    return events


TERMINAL = {"response.completed", "response.incomplete", "response.failed"}


def chat_frames(body: str) -> list[dict[str, Any]]:
    """A Chat Completions stream's payloads: `data:` frames, then `data: [DONE]`."""
    frames = body.split("\n\n")
    assert frames[-1] == "" and frames[-2] == "data: [DONE]", frames[-3:]
    assert all(frame.startswith("data: ") for frame in frames[:-2]), frames
    return [json.loads(frame.removeprefix("data: ")) for frame in frames[:-2]]


def assert_error(resp: httpx.Response, status: int, fault: Fault, message: str = "") -> None:
    """An OpenAI-shaped error that says what happened, with no raw upstream page in it, marked
    retryable (an upstream 429 or 5xx), an upstream's Retry-After kept."""
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert (message or fault.message) in error["message"], error
    assert PAGE_SECRET not in error["message"], error
    assert error["type"] == ("server_error" if status >= 500 else "requests"), error
    assert resp.headers["x-should-retry"] == "true"
    assert resp.headers.get("retry-after") == ("7" if status == 429 else None)


def text_of(response: dict[str, Any]) -> str:
    return "".join(
        part.get("text", "")
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
    )


def assert_final(response: dict[str, Any], fault: Fault) -> None:
    """A terminal response: its status, and its output (the answer, or the partial one)."""
    assert response["status"] == fault.outcome, response
    if fault.outcome == "failed":
        assert response["error"]["code"] == fault.code, response["error"]
        assert fault.message in response["error"]["message"], response["error"]
        assert text_of(response) == (fault.partial or ""), response["output"]
        if fault.partial:
            assert response["output"][0]["status"] == "incomplete"
    else:
        assert response["error"] is None
        assert text_of(response) == fault.text
    if fault.outcome == "incomplete":
        assert response["incomplete_details"] == {"reason": "max_output_tokens"}


# The paths ----------------------------------------------------------------------------------


def newest_stored(server: Server, model: str) -> dict[str, Any]:
    page = HTTP.get(server.url + "/v1/responses", params={"limit": 1, "model": model}).json()
    stored: dict[str, Any] = page["data"][0]
    return stored


def run_json(server: Server, model: str, fault: Fault) -> dict[str, Any] | None:
    resp = HTTP.post(server.url + "/v1/responses", json={"model": model, "input": "x"})
    refused = fault.status or (502 if fault.outcome == "failed" else None)
    if refused is not None:
        assert_error(resp, refused, fault)
        return None
    assert resp.status_code == 200, resp.text
    final: dict[str, Any] = resp.json()
    assert_final(final, fault)
    return final


def run_sse(server: Server, model: str, fault: Fault) -> dict[str, Any] | None:
    resp = HTTP.post(server.url + "/v1/responses", json={"model": model, "input": "x", "stream": True})
    if fault.status is not None:  # refused before any output: an HTTP error, as OpenAI does
        assert_error(resp, fault.status, fault)
        return None
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    events = response_events(resp.text)
    assert events[-1]["type"] == f"response.{fault.outcome}"
    final: dict[str, Any] = events[-1]["response"]
    assert_final(final, fault)
    return final


def run_background(server: Server, model: str, fault: Fault, stream: bool) -> dict[str, Any]:
    """Queued at once whatever the upstream does; its stored events then streamed back (by
    `GET ?stream=true`, or by the creating request itself)."""
    body = {"model": model, "input": "x", "background": True, "stream": stream}
    resp = HTTP.post(server.url + "/v1/responses", json=body)
    assert resp.status_code == 200, resp.text
    if not stream:
        assert resp.json()["status"] == "queued", resp.text
        params = {"stream": "true"}
        resp = HTTP.get(f"{server.url}/v1/responses/{resp.json()['id']}", params=params)
    events = response_events(resp.text)
    assert [e["type"] for e in events[:2]] == ["response.created", "response.queued"]
    assert events[-1]["type"] == f"response.{fault.outcome}"
    final: dict[str, Any] = events[-1]["response"]
    assert_final(final, fault)
    return final


def run_chat(server: Server, model: str, fault: Fault, stream: bool) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "x"}], "stream": stream}
    resp = HTTP.post(server.url + "/v1/chat/completions", json=body)
    status = fault.chat_status
    if status is None and not stream and fault.outcome == "failed":
        status = 502
    if status is not None:
        assert_error(resp, status, fault, (fault.chat_json_message if not stream else None) or "")
        return
    assert resp.status_code == 200, resp.text
    if not stream:
        choice = resp.json()["choices"][0]
        assert choice["message"]["content"] == fault.text
        assert choice["finish_reason"] == ("length" if fault.outcome == "incomplete" else "stop")
        return
    payloads = chat_frames(resp.text)
    if fault.chat_frame_error:
        *chunks, last = payloads
        assert "error" in last and "choices" not in last, last
        assert fault.message in last["error"]["message"], last
        assert not any(c.get("choices") and c["choices"][0].get("finish_reason") for c in chunks)
        return
    choices = [c["choices"][0] for c in payloads if c.get("choices")]
    assert "".join(c["delta"].get("content") or "" for c in choices) == fault.text
    finish = [c["finish_reason"] for c in choices if c.get("finish_reason")]
    assert finish == ["length" if fault.outcome == "incomplete" else "stop"]


def assert_healthy(server: Server) -> None:
    assert HTTP.get(server.url + "/v1/health").json() == {"status": "OK"}
    resp = HTTP.post(server.url + "/v1/responses", json={"model": "openai/gpt-4o", "input": "ping"})
    assert resp.status_code == 200 and resp.json()["status"] == "completed", resp.text


@pytest.mark.parametrize(("name", "path"), CELLS)
def test_fault(server: Server, name: str, path: str) -> None:
    fault, model = FAULTS[name], f"openai/{name}"
    if path in ("chat-json", "chat-sse"):
        run_chat(server, model, fault, stream=path == "chat-sse")
    else:
        if path.startswith("background"):
            final: dict[str, Any] | None = run_background(server, model, fault, path == "background-sse")
        else:
            final = (run_sse if path == "sse" else run_json)(server, model, fault)
        stored = newest_stored(server, model)
        if final is not None:
            assert stored["id"] == final["id"]
        assert_final(stored, fault)  # what was stored says what the client saw
    assert_healthy(server)


def test_an_upstream_error_page_goes_to_the_log_not_to_the_client(server: Server) -> None:
    """An HTML 500 page is named by its status; its content is logged (truncated), not echoed."""
    for path in ("/v1/responses", "/v1/chat/completions"):
        for stream in (False, True):
            body: dict[str, Any] = {"model": "openai/html-500", "stream": stream}
            body.update(
                {"messages": [{"role": "user", "content": "x"}]} if "chat" in path else {"input": "x"}
            )
            resp = HTTP.post(server.url + path, json=body)
            assert resp.status_code == 502
            message = resp.json()["error"]["message"]
            assert "HTTP 500" in message and "openai" in message, message
            assert "<" not in message and PAGE_SECRET not in message, message
    assert PAGE_SECRET not in json.dumps(newest_stored(server, "openai/html-500"))
    assert PAGE_SECRET in Path(server.log).read_text(errors="replace")
