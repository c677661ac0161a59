"""Bad input: a clear OpenAI-shaped 4xx, nothing stored, never a 500 or a hang."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import HTTP, Server, start_server


def post(server: Server, body: Any, path: str = "/v1/responses", **kwargs: Any) -> httpx.Response:
    if isinstance(body, (bytes, str)):
        return HTTP.post(
            server.url + path,
            content=body,
            timeout=10,
            headers={"content-type": "application/json"},
            **kwargs,
        )
    return HTTP.post(server.url + path, json=body, timeout=10, **kwargs)


def assert_error(
    resp: httpx.Response, status: int, param: str | None = None, contains: str = ""
) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and contains.lower() in error["message"].lower(), error
    if param is not None:
        assert error["param"] == param, error
    assert error["type"] == ("invalid_request_error" if status < 500 else "server_error")
    return error


def stored_count(server: Server) -> int:
    return len(HTTP.get(server.url + "/v1/responses", params={"limit": 100}, timeout=10).json()["data"])


@pytest.fixture()
def unchanged(live_server: Server) -> Iterator[None]:
    """Whatever the test sends, no response is stored because of it."""
    before = stored_count(live_server)
    yield
    assert stored_count(live_server) == before


OK = {"model": "openai/gpt-4o", "input": "hi"}


@pytest.mark.parametrize(
    ("body", "param", "contains"),
    [
        ({}, "model", "missing"),
        ({"model": "openai/gpt-4o"}, "input", "missing"),
        ({**OK, "temperature": "hot"}, "temperature", "invalid type"),
        ({**OK, "stream": "yes"}, "stream", "invalid type"),
        ({**OK, "input": 5}, "input", ""),
        ({**OK, "metadata": ["a"]}, "metadata", ""),
        ({**OK, "temperature": 3}, "temperature", "less than or equal to 2"),
        ({**OK, "top_p": 1.5}, "top_p", "less than or equal to 1"),
        ({**OK, "max_output_tokens": 15}, "max_output_tokens", "greater than or equal to 16"),
        ({**OK, "top_logprobs": 21}, "top_logprobs", ""),
        ({**OK, "max_tool_calls": 0}, "max_tool_calls", ""),
        ({**OK, "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "16"),
        ({**OK, "metadata": {"k": "v" * 513}}, "metadata.k", ""),
        ({**OK, "safety_identifier": "x" * 65}, "safety_identifier", ""),
        ({**OK, "service_tier": "platinum"}, "service_tier", ""),
        ({**OK, "background": True, "store": False}, "background", "store=false"),
        ({**OK, "text": {"format": {"type": "xml"}}}, "text.format.type", ""),
        ({**OK, "text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name", ""),
        (
            {**OK, "text": {"format": {"type": "json_schema", "name": "x", "schema": "no"}}},
            "text.format.schema",
            "",
        ),
        ({**OK, "tools": [{"type": "code_interpreter"}]}, "tools[0].type", "not supported"),
        ({**OK, "tools": [{"type": "function"}]}, "tools[0].name", "missing"),
        ({**OK, "tool_choice": "required"}, "tool_choice", "no 'tools'"),
        ({**OK, "tool_choice": "sometimes", "tools": [{"type": "function", "name": "f"}]}, "tool_choice", ""),
        ({**OK, "tool_choice": ""}, "tool_choice", ""),  # no tools: once stored and echoed as given
        ({**OK, "reasoning": {"effort": "banana"}}, "reasoning.effort", ""),  # echoed too
        ({**OK, "text": {"verbosity": "loud"}}, "text.verbosity", ""),
        (
            {
                **OK,
                "tool_choice": {"type": "function", "name": "g"},
                "tools": [{"type": "function", "name": "f"}],
            },
            "tool_choice",
            "not in 'tools'",
        ),
        ({**OK, "input": [{"type": "computer_call", "id": "x"}]}, "input[0].type", "not supported"),
        ({**OK, "input": [{"role": "robot", "content": "hi"}]}, "input[0].role", ""),
        ({**OK, "input": [{"role": "user", "content": 7}]}, "input[0].content", ""),
        (
            {**OK, "input": [{"role": "user", "content": [{"type": "output_audio", "data": "no"}]}]},
            "input[0].content[0].type",
            "not supported",
        ),
        (
            {**OK, "input": [{"role": "user", "content": [{"type": "input_file", "file_id": 7}]}]},
            "input[0].content[0].file_id",
            "expected a string",
        ),
        (
            {**OK, "input": [{"role": "user", "content": [{"type": "input_text"}]}]},
            "input[0].content[0].text",
            "",
        ),
        (
            {**OK, "input": [{"type": "function_call_output", "call_id": "call_x", "output": "42"}]},
            "input",
            "call_x",
        ),
        ({**OK, "input": []}, "input", "nothing to respond to"),
        (
            {**OK, "previous_response_id": "resp_1", "conversation": "conv_" + "0" * 48},
            "conversation",
            "both",
        ),
        ({**OK, "conversation": "conversation-1"}, "conversation", "conv_"),
        ({**OK, "prompt": {"id": "pmpt_1", "version": 2}}, "prompt.version", "as a string"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_bad_request_is_400(
    live_server: Server, unchanged: None, body: dict[str, Any], param: str, contains: str, stream: bool
) -> None:
    if stream:
        body = {**body, "stream": True} if "stream" not in body else body
    assert_error(post(live_server, body), 400, param, contains)


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (
            {**OK, "previous_response_id": "resp_missing"},
            "previous_response_id",
            "previous_response_not_found",
        ),
        ({**OK, "conversation": "conv_" + "a" * 48}, "conversation", "not_found"),
        ({**OK, "prompt": {"id": "pmpt_1"}}, "prompt.id", "not_found"),
    ],
)
def test_unknown_things_are_404(
    live_server: Server, unchanged: None, body: dict[str, Any], param: str, code: str
) -> None:
    error = assert_error(post(live_server, body), 404, param)
    assert error["code"] == code
    assert_error(post(live_server, {**body, "stream": True}), 404, param)


def test_unstored_response_cannot_be_continued(live_server: Server) -> None:
    client = live_server.client()
    first = client.responses.create(model="openai/gpt-4o", input="hi", store=False)
    assert first.store is False
    assert_error(HTTP.get(f"{live_server.url}/v1/responses/{first.id}"), 404, "response_id")
    assert_error(post(live_server, {**OK, "previous_response_id": first.id}), 404, "previous_response_id")


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_malformed_json_is_400(live_server: Server, unchanged: None, raw: bytes) -> None:
    assert_error(post(live_server, raw), 400)
    assert_error(post(live_server, raw, path="/v1/chat/completions"), 400)


def test_routes_and_methods(live_server: Server) -> None:
    assert_error(HTTP.get(live_server.url + "/v1/nothing-here"), 404)
    # OpenAI answers a route or method it does not have with 404 "Invalid URL (METHOD /path)";
    # `Allow` names the methods a known path serves.
    put = HTTP.put(live_server.url + "/v1/responses")
    assert_error(put, 404, contains="Invalid URL (PUT /v1/responses)")
    assert put.headers["allow"] == "GET, POST"
    patch = HTTP.patch(live_server.url + "/v1/conversations/conv_1")
    assert_error(patch, 404, contains="Invalid URL (PATCH /v1/conversations/conv_1)")
    assert patch.headers["allow"] == "DELETE, GET, POST"
    assert "allow" not in HTTP.get(live_server.url + "/v1/nothing-here").headers
    assert_error(HTTP.post(live_server.url + "/v1/responses/resp_1/nothing"), 404)
    assert_error(HTTP.get(live_server.url + "/v1/responses/resp_missing"), 404, "response_id")
    assert_error(HTTP.delete(live_server.url + "/v1/responses/resp_missing"), 404, "response_id")
    assert_error(HTTP.get(live_server.url + "/v1/responses/resp_missing/input_items"), 404)
    assert_error(HTTP.get(live_server.url + "/v1/responses", params={"limit": 0}), 400, "limit")
    assert_error(HTTP.get(live_server.url + "/v1/responses", params={"limit": 101}), 400, "limit")
    assert_error(HTTP.get(live_server.url + "/v1/responses", params={"order": "sideways"}), 400, "order")
    assert_error(HTTP.get(live_server.url + "/v1/responses", params={"after": "resp_missing"}), 400, "after")
    # A NUL in the query (PostgreSQL text cannot hold one) and a sequence number past 32 bits
    # were 500s on PostgreSQL.
    assert_error(HTTP.get(live_server.url + "/v1/responses", params={"after": "a\x00"}), 400, contains="NUL")
    too_far = {"stream": "true", "starting_after": 2**31}
    assert_error(HTTP.get(live_server.url + "/v1/responses/resp_1", params=too_far), 400, "starting_after")


def test_upstream_rejection_keeps_its_status(live_server: Server) -> None:
    error = assert_error(post(live_server, {**OK, "model": "openai/bad-request"}), 400)
    assert error["code"] == "invalid_base64"
    assert error["message"] == "Invalid base64 image_url."


def test_upstream_server_error_is_502(live_server: Server) -> None:
    resp = post(live_server, {**OK, "model": "openai/server-error"})
    error = assert_error(resp, 502)
    assert "upstream exploded" in error["message"]
    assert resp.headers["x-should-retry"] == "true"


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("small"),
        "small",
        {
            "OPENAI_API_KEY": "k",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "RESPONSA_MAX_BODY_BYTES": "2000",
        },
    )
    yield server
    server.stop()


def test_oversize_body_is_413(small_server: Server) -> None:
    big = {**OK, "input": "x" * 5000}
    assert_error(post(small_server, big), 413, contains="limit")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield b'{"model": "openai/gpt-4o", "input": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    resp = HTTP.post(
        small_server.url + "/v1/responses",
        content=chunks(),
        timeout=10,
        headers={"content-type": "application/json"},
    )
    assert_error(resp, 413)


def test_unreachable_upstream_fails_cleanly(small_server: Server) -> None:
    resp = post(small_server, OK)
    error = assert_error(resp, 502)
    assert "openai" in error["message"]
