"""WebSocket mode on /v1/responses, through real clients: a raw `websockets` client (framing,
order, the cache, errors, lanes, the age limit), the official SDK's `responses.connect()` and
the Agents SDK's `OpenAIResponsesWSModel`, against servers in front of the fake upstream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import websockets
from openai.types.responses import ResponsesServerEvent
from pydantic import TypeAdapter

from tests.api.test_security import new_key
from tests.support import HTTP, Process, Server, start_server, upstream_env, upstream_requests

TERMINAL = frozenset({"response.completed", "response.failed", "response.incomplete", "error"})
SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(ResponsesServerEvent)


def ws_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/v1/responses"


def create(**body: Any) -> str:
    return json.dumps({"type": "response.create", "model": "gpt-4o", **body})


async def turn(ws: Any) -> list[dict[str, Any]]:
    """The frames of one response (or one error), up to its terminal event."""
    events: list[dict[str, Any]] = []
    while True:
        frame = await ws.recv()
        assert isinstance(frame, str)  # JSON text frames, never binary
        events.append(json.loads(frame))
        if events[-1]["type"] in TERMINAL:
            return events


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def accepted(server: Server) -> int:
    """How many WebSockets the server has accepted (its log says so for each)."""
    return server.log.read_text().count('"WebSocket /v1/responses" [accepted]')


def test_one_response_is_the_sse_events_as_text_frames(live_server: Server) -> None:
    async def go() -> list[dict[str, Any]]:
        async with websockets.connect(ws_url(live_server)) as ws:
            await ws.send(create(input="Hi"))
            return await turn(ws)

    events = run(go())
    types = [e["type"] for e in events]
    assert types[:2] == ["response.created", "response.in_progress"] and types[-1] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for event in events:
        SERVER_EVENT.validate_python(event)  # the SDK's WebSocket server event types
        assert "stream_id" not in event
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "Hello from gpt-4o!"
    stored = HTTP.get(f"{live_server.url}/v1/responses/{events[-1]['response']['id']}").json()
    assert stored["status"] == "completed" and stored["output"][0]["content"][0]["text"] == text


def test_creates_sent_together_run_one_after_the_other(live_server: Server) -> None:
    async def go() -> list[list[dict[str, Any]]]:
        async with websockets.connect(ws_url(live_server)) as ws:
            await ws.send(create(model="slow", input="first"))
            await ws.send(create(input="second"))
            return [await turn(ws), await turn(ws)]

    first, second = run(go())
    assert first[-1]["type"] == second[-1]["type"] == "response.completed"
    assert {e["response"]["id"] for e in first if "response" in e} != {
        e["response"]["id"] for e in second if "response" in e
    }
    assert first[-1]["response"]["model"] == "slow"  # the slow one, sent first, ended first
    assert [e["sequence_number"] for e in second] == list(range(len(second)))


def test_store_false_chain_continues_from_the_connection_cache(live_server: Server, fake: Process) -> None:
    async def go() -> tuple[str, list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        async with websockets.connect(ws_url(live_server)) as ws:
            await ws.send(create(input="My name is Ada.", store=False))
            parent = (await turn(ws))[-1]["response"]["id"]
            await ws.send(create(input="What is my name?", store=False, previous_response_id=parent))
            second = await turn(ws)
        async with websockets.connect(ws_url(live_server)) as ws:  # a new connection has no cache
            await ws.send(create(input="And now?", store=False, previous_response_id=parent))
            lost = await turn(ws)
            await ws.send(create(input="Starting over: my name is Ada."))  # a clean restart works
            restart = await turn(ws)
        return parent, second, lost, restart

    parent, second, lost, restart = run(go())
    assert second[-1]["type"] == "response.completed"
    assert second[-1]["response"]["previous_response_id"] == parent
    messages = upstream_requests(fake)[1]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "My name is Ada." and messages[2]["content"] == "What is my name?"
    assert lost == [
        {
            "type": "error",
            "status": 404,
            "error": {
                "message": lost[0]["error"]["message"],
                "type": "invalid_request_error",
                "param": "previous_response_id",
                "code": "previous_response_not_found",
            },
        }
    ]
    SERVER_EVENT.validate_python(lost[0])
    assert restart[-1]["type"] == "response.completed"
    unstored = second[-1]["response"]["id"]
    assert HTTP.get(f"{live_server.url}/v1/responses/{unstored}").status_code == 404


@pytest.mark.parametrize("failure", [{"model": "bad-request"}, {"temperature": 5}])
def test_a_failed_continuation_evicts_its_parent(live_server: Server, failure: dict[str, Any]) -> None:
    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with websockets.connect(ws_url(live_server)) as ws:
            await ws.send(create(input="One.", store=False))
            parent = (await turn(ws))[-1]["response"]["id"]
            await ws.send(create(input="Two.", store=False, previous_response_id=parent, **failure))
            failed = await turn(ws)
            await ws.send(create(input="Three.", store=False, previous_response_id=parent))
            return failed, await turn(ws)

    failed, after = run(go())
    assert failed[-1]["type"] == "error" and failed[-1]["status"] == 400
    assert after[-1]["error"]["code"] == "previous_response_not_found"


def test_stored_responses_continue_on_any_connection(live_server: Server) -> None:
    first = live_server.client().responses.create(model="gpt-4o", input="Stored over HTTP.")

    async def go() -> list[dict[str, Any]]:
        async with websockets.connect(ws_url(live_server)) as ws:
            await ws.send(create(input="Continued over a WebSocket.", previous_response_id=first.id))
            return await turn(ws)

    assert run(go())[-1]["type"] == "response.completed"


def test_bad_frames_get_error_events_and_the_socket_stays_open(live_server: Server) -> None:
    bad = [
        ("not json", "invalid_json", None, 400),
        ("[1]", "invalid_type", None, 400),
        (json.dumps({"type": "response.steer", "input": "x"}), "invalid_value", "type", 400),
        (create(input="x", stream=False), None, "stream", 400),
        (create(input="x", background=True), None, "background", 400),
        (create(input="x", generate="no"), None, "generate", 400),
        (json.dumps({"type": "response.create", "input": "x"}), "missing_required_parameter", "model", 400),
        (create(input="x", conversation="conv_" + "0" * 48), None, "conversation", 404),
    ]

    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with websockets.connect(ws_url(live_server)) as ws:
            errors = []
            for frame, *_ in bad:
                await ws.send(frame)
                errors.extend(await turn(ws))
            await ws.send(create(input="Still here?", stream=True))  # `stream: true` is implicit
            return errors, await turn(ws)

    errors, after = run(go())
    for error, (_, code, param, status) in zip(errors, bad, strict=True):
        SERVER_EVENT.validate_python(error)
        assert error["type"] == "error" and error["status"] == status, error
        assert error["error"]["param"] == param and (code is None or error["error"]["code"] == code), error
    assert after[-1]["type"] == "response.completed"


def test_generate_false_warms_a_chain_without_a_model_call(live_server: Server, fake: Process) -> None:
    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with websockets.connect(ws_url(live_server)) as ws:
            await ws.send(create(input="Context: the sky is green.", store=False, generate=False))
            warm = await turn(ws)
            assert upstream_requests(fake) == []
            parent = warm[-1]["response"]["id"]
            await ws.send(create(input="What colour is the sky?", store=False, previous_response_id=parent))
            return warm, await turn(ws)

    warm, answer = run(go())
    assert [e["type"] for e in warm] == ["response.created", "response.in_progress", "response.completed"]
    assert warm[-1]["response"]["output"] == [] and warm[-1]["response"]["status"] == "completed"
    assert answer[-1]["type"] == "response.completed"
    messages = upstream_requests(fake)[0]["messages"]
    assert [m["content"] for m in messages] == ["Context: the sky is green.", "What colour is the sky?"]


def test_lanes_run_in_parallel_and_carry_their_stream_id(live_server: Server) -> None:
    async def go() -> list[dict[str, Any]]:
        async with websockets.connect(ws_url(live_server)) as ws:
            await ws.send(create(model="slow", input="lane a", stream_id="a"))
            await ws.send(create(model="slow", input="lane b", stream_id="b"))
            events: list[dict[str, Any]] = []
            while sum(e["type"] in TERMINAL for e in events) < 2:
                events.append(json.loads(await ws.recv()))
            return events

    events = run(go())
    for lane in ("a", "b"):
        mine = [e for e in events if e.get("stream_id") == lane]
        assert [e["sequence_number"] for e in mine] == list(range(len(mine)))
        assert mine[-1]["type"] == "response.completed"
        for event in mine:
            SERVER_EVENT.validate_python(event)
    assert all("stream_id" in e for e in events)
    b_created = next(i for i, e in enumerate(events) if e["stream_id"] == "b")
    a_done = next(i for i, e in enumerate(events) if e["stream_id"] == "a" and e["type"] in TERMINAL)
    assert b_created < a_done  # b started while a still ran


def test_a_lane_forks_from_another_lanes_response(live_server: Server) -> None:
    async def go() -> list[dict[str, Any]]:
        async with websockets.connect(ws_url(live_server)) as ws:
            await ws.send(create(input="Root.", store=False, stream_id="main"))
            root = (await turn(ws))[-1]["response"]["id"]
            await ws.send(create(input="Fork.", store=False, stream_id="fork", previous_response_id=root))
            return await turn(ws)

    fork = run(go())
    assert fork[-1]["type"] == "response.completed" and fork[-1]["stream_id"] == "fork"


def test_invalid_stream_ids(live_server: Server) -> None:
    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with websockets.connect(ws_url(live_server)) as ws:
            malformed = []
            for value in ("", "has space", 7, "x" * 65):
                await ws.send(create(input="x", stream_id=value))
                malformed.extend(await turn(ws))
            for n in range(32):  # 32 named lanes are fine (warm-ups: no model calls)
                await ws.send(create(input="x", stream_id=f"s{n}", generate=False, store=False))
            done = 0
            while done < 32:
                done += json.loads(await ws.recv())["type"] == "response.completed"
            await ws.send(create(input="x", stream_id="one-too-many"))
            return malformed, await turn(ws)

    malformed, extra = run(go())
    for error in [*malformed, *extra]:
        assert error["type"] == "error" and error["status"] == 400
        assert error["error"]["code"] == "invalid_stream_id" and error["error"]["param"] == "stream_id"
    assert extra[0]["stream_id"] == "one-too-many" and "32" in extra[0]["error"]["message"]


def test_a_client_leaving_mid_response_leaves_it_stored_failed(live_server: Server) -> None:
    async def go() -> str:
        async with websockets.connect(ws_url(live_server)) as ws:
            await ws.send(create(model="slow", input="Count slowly."))
            response_id = ""
            while True:
                event = json.loads(await ws.recv())
                if event["type"] == "response.created":
                    response_id = event["response"]["id"]
                if event["type"] == "response.output_text.delta":
                    return response_id  # and the socket closes mid-response

    response_id = run(go())
    deadline = time.monotonic() + 20
    while (stored := HTTP.get(f"{live_server.url}/v1/responses/{response_id}")).status_code == 404:
        assert time.monotonic() < deadline, "the failed response was never stored"
        time.sleep(0.05)
    failed = stored.json()
    assert failed["status"] == "failed"
    assert failed["error"]["message"] == "The client disconnected before the response completed."
    assert failed["output"][0]["content"][0]["text"].startswith("tick0")  # what was streamed is kept


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process) -> Iterator[Server]:
    """A server whose WebSocket connections live 2 s."""
    env = upstream_env(fake_upstream, RESPONSA_WEBSOCKET_MAX_AGE_S="2")
    with start_server(tmp_path_factory.mktemp("ws-age"), "ws-age", env) as server:
        yield server


def test_the_connection_limit_closes_the_socket(short_lived: Server) -> None:
    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any]:
        async with websockets.connect(ws_url(short_lived)) as ws:
            await ws.send(create(input="Before the limit."))
            before = await turn(ws)
            limit = await turn(ws)  # sent by the server when the connection's time is up
            with pytest.raises(websockets.ConnectionClosedOK):
                await ws.recv()
            return before, limit, ws.close_code

    before, limit, code = run(go())
    assert before[-1]["type"] == "response.completed"
    assert limit[0]["type"] == "error" and limit[0]["error"]["code"] == "websocket_connection_limit_reached"
    assert code == 1000


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process) -> Iterator[tuple[Server, str]]:
    """A server with an API key (so authentication is on), one response per owner at a time, and
    the record mode (test ids come from the handshake)."""
    tmp = tmp_path_factory.mktemp("ws-secured")
    db = f"sqlite:///{tmp / 'keys.db'}"
    key, _ = new_key(db, "--name", "ws", "--owner", "wsowner")
    env = upstream_env(
        fake_upstream,
        RESPONSA_DB_URL=db,
        RESPONSA_MAX_CONCURRENT_PER_OWNER="1",
        RESPONSA_RECORDING_MODE="record",
        RESPONSA_RECORDING_DIR=str(tmp / "recordings"),
    )
    with start_server(tmp, "ws-secured", env) as server:
        yield server, key


def test_the_handshake_needs_the_api_key(secured: tuple[Server, str]) -> None:
    server, key = secured

    async def refused(headers: dict[str, str]) -> Any:
        with pytest.raises(websockets.InvalidStatus) as caught:
            async with websockets.connect(ws_url(server), additional_headers=headers):
                pass
        return caught.value.response

    no_key = run(refused({}))
    assert no_key.status_code == 401 and json.loads(no_key.body)["error"]["code"] == "missing_api_key"
    wrong = run(refused({"Authorization": "Bearer rsk-wrong"}))
    assert wrong.status_code == 401 and json.loads(wrong.body)["error"]["code"] == "invalid_api_key"
    page = run(refused({"Authorization": f"Bearer {key}", "Origin": "https://evil.example"}))
    assert page.status_code == 403 and json.loads(page.body)["error"]["code"] == "origin_not_allowed"
    host = run(refused({"Authorization": f"Bearer {key}", "Host": "rebound.example"}))
    assert host.status_code == 400 and json.loads(host.body)["error"]["code"] == "invalid_host"


def test_owner_limits_and_test_ids_hold_over_the_socket(secured: tuple[Server, str], tmp_path: Path) -> None:
    server, key = secured
    headers = {"Authorization": f"Bearer {key}", "X-Responsa-Test-Id": "ws::recorded"}

    async def go() -> list[dict[str, Any]]:
        async with websockets.connect(ws_url(server), additional_headers=headers) as ws:
            await ws.send(create(model="slow", input="Lane one.", stream_id="one"))
            await ws.send(create(input="Lane two.", stream_id="two"))
            events: list[dict[str, Any]] = []
            while sum(e["type"] in TERMINAL for e in events) < 2:
                events.append(json.loads(await ws.recv()))
            return events

    events = run(go())
    two = [e for e in events if e["stream_id"] == "two"]
    assert two[-1]["type"] == "error" and two[-1]["status"] == 429  # one at a time for this owner
    one = [e for e in events if e["stream_id"] == "one"]
    assert one[-1]["type"] == "response.completed"
    stored = server.client(api_key=key).responses.retrieve(one[-1]["response"]["id"])
    assert stored.status == "completed"
    recordings = list((server.log.parent / "recordings").glob("*.json"))
    assert [json.loads(p.read_text())["test_id"] for p in recordings] == ["ws::recorded"]


@pytest.mark.skipif(not hasattr(openai.AsyncOpenAI(api_key="k").responses, "connect"), reason="SDK too old")
def test_the_official_sdk_connect(live_server: Server) -> None:
    sockets = accepted(live_server)

    async def go() -> tuple[str, str]:
        client = openai.AsyncOpenAI(base_url=live_server.url + "/v1", api_key="k", max_retries=0)
        try:
            async with client.responses.connect() as connection:
                await connection.response.create(model="gpt-4o", input="Hello?", store=False)
                first = None
                async for event in connection:
                    if event.type == "response.completed":
                        first = event.response
                        break
                assert first is not None
                await connection.response.create(
                    model="gpt-4o", input="Again.", store=False, previous_response_id=first.id
                )
                text = ""
                async for event in connection:
                    if event.type == "response.output_text.delta":
                        text += event.delta
                    if event.type == "response.completed":
                        return first.output_text, text
        finally:
            await client.close()
        raise AssertionError("no terminal event")

    first, second = run(go())
    assert first == second == "Hello from gpt-4o!"
    assert accepted(live_server) == sockets + 1


def test_the_agents_sdk_websocket_model(live_server: Server, fake: Process) -> None:
    agents = pytest.importorskip("agents")
    sockets = accepted(live_server)

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"Sunny in {city}"

    async def go() -> Any:
        agents.set_tracing_disabled(True)
        client = openai.AsyncOpenAI(base_url=live_server.url + "/v1", api_key="k", max_retries=0)
        model = agents.OpenAIResponsesWSModel(model="tool-call", openai_client=client)
        agent = agents.Agent(name="weather", instructions="Be brief.", model=model, tools=[get_weather])
        try:
            return await agents.Runner.run(agent, "Weather in Paris?")
        finally:
            await model.close()
            await client.close()

    result = run(go())
    assert result.final_output == "Hello from tool-call!"
    assert accepted(live_server) == sockets + 1  # both model calls went over one WebSocket
    tool_turn = upstream_requests(fake)[1]["messages"]
    assert tool_turn[-1]["role"] == "tool" and tool_turn[-1]["content"] == "Sunny in Paris"
