"""Malformed input found by fuzzing (issue 15): every one is a 4xx, never a 500, and nothing is
sent upstream for it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import HTTP, Process, Server, upstream_requests

OK = {"model": "openai/gpt-4o", "input": "hi"}
DEEP: Any = "x"
for _ in range(300):
    DEEP = [DEEP]

BODIES = [
    {
        **OK,
        "input": [
            {"type": "reasoning", "content": "not a list", "summary": []},
            {"role": "user", "content": "x"},
        ],
    },
    {
        **OK,
        "input": [{"role": "user", "content": [{"type": "input_file", "file_data": "aGk=", "filename": 5}]}],
    },
    {**OK, "tools": [{"type": {"nested": "object"}}]},
    {**OK, "tools": [{"type": ["function"]}]},
    {**OK, "tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "function", "name": 5}},
    {
        **OK,
        "tools": [{"type": "function", "name": "f"}],
        "tool_choice": {"type": "allowed_tools", "tools": [{"type": "function", "name": ["f"]}]},
    },
    {**OK, "metadata": {"k": DEEP}},
    {**OK, "extra": DEEP},
    {**OK, "input": [{"role": "user", "content": "nul \u0000 byte"}]},
    {**OK, "model": "openai/" + "m" * 300},
    {**OK, "input": [{"type": "message", "role": "user", "id": 5, "content": "x"}]},
    {**OK, "input": [{"type": "message", "role": "user", "id": "msg_" + "x" * 500, "content": "x"}]},
    {**OK, "previous_response_id": "resp_" + "x" * 500},
    {**OK, "input": [{"type": "item_reference", "id": "x" * 500}]},
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_malformed_bodies_are_4xx(live_server: Server, fake_upstream: Process, body: dict[str, Any]) -> None:
    HTTP.delete(fake_upstream.url + "/fake/requests")
    raw = json.dumps(body).encode()  # the stdlib encoder: orjson refuses to write the deep ones
    resp = HTTP.post(
        live_server.url + "/v1/responses", content=raw, headers={"content-type": "application/json"}
    )
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
    assert set(resp.json()["error"]) == {"message", "type", "param", "code"}
    assert upstream_requests(fake_upstream) == []  # refused before any upstream call


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (
            "POST",
            "/v1/conversations",
            {"items": [{"type": "message", "role": "user", "id": 7, "content": "x"}]},
        ),
        ("GET", "/v1/responses/resp_x?stream=true&starting_after=4294967296", None),
        ("GET", "/v1/responses/%00", None),
        ("GET", "/v1/responses/" + "r" * 500, None),
        ("GET", "/v1/conversations/conv_" + "0" * 48 + "/items/" + "i" * 500, None),
    ],
)
def test_malformed_routes_are_4xx(live_server: Server, method: str, path: str, body: Any) -> None:
    resp = HTTP.request(method, live_server.url + path, json=body)
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
