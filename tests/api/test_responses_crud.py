"""Stored responses: retrieve, delete, list, input items, and continuation through the SDK."""

from __future__ import annotations

import openai
import pytest

from tests.support import HTTP, Process, Server, upstream_requests


def test_retrieve_delete(live_server: Server) -> None:
    client = live_server.client()
    created = client.responses.create(
        model="openai/gpt-4o", input="hi", metadata={"team": "a"}, temperature=0.3
    )
    fetched = client.responses.retrieve(created.id)
    assert fetched.model_dump() == created.model_dump()
    assert fetched.metadata == {"team": "a"} and fetched.temperature == 0.3
    raw = HTTP.get(f"{live_server.url}/v1/responses/{created.id}").json()
    for field in (
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "top_logprobs",
        "tool_choice",
        "truncation",
        "background",
        "service_tier",
        "tools",
        "store",
        "text",
        "parallel_tool_calls",
    ):
        assert raw[field] is not None, field
    deleted = HTTP.delete(f"{live_server.url}/v1/responses/{created.id}").json()
    assert deleted == {"id": created.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_store_false_stores_nothing(live_server: Server) -> None:
    client = live_server.client()
    created = client.responses.create(model="openai/gpt-4o", input="not kept", store=False)
    assert created.status == "completed" and created.output_text
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    listed = HTTP.get(live_server.url + "/v1/responses", params={"limit": 100}).json()["data"]
    assert created.id not in {r["id"] for r in listed}


def test_list_pagination_both_orders(live_server: Server) -> None:
    client = live_server.client()
    model = "openai/list-test-model"
    ids = [client.responses.create(model=model, input=f"n{i}").id for i in range(5)]

    def page(**params: object) -> dict:
        result: dict = HTTP.get(live_server.url + "/v1/responses", params={"model": model, **params}).json()
        return result

    first = page(limit=2, order="asc")
    assert [r["id"] for r in first["data"]] == ids[:2] and first["has_more"] is True
    assert first["first_id"] == ids[0] and first["last_id"] == ids[1] and first["object"] == "list"
    second = page(limit=2, order="asc", after=first["last_id"])
    assert [r["id"] for r in second["data"]] == ids[2:4] and second["has_more"] is True
    third = page(limit=2, order="asc", after=second["last_id"])
    assert [r["id"] for r in third["data"]] == ids[4:] and third["has_more"] is False
    desc = page(limit=3)
    assert [r["id"] for r in desc["data"]] == ids[::-1][:3] and desc["has_more"] is True
    rest = page(limit=3, after=desc["last_id"])
    assert [r["id"] for r in rest["data"]] == ids[::-1][3:] and rest["has_more"] is False
    before = page(limit=2, order="asc", before=ids[3])
    assert [r["id"] for r in before["data"]] == ids[1:3] and before["has_more"] is True
    empty = page(limit=2, order="asc", after=ids[4])
    assert empty["data"] == [] and empty["first_id"] == "" == empty["last_id"] and empty["has_more"] is False


def test_input_items_and_chain(live_server: Server, fake_upstream: Process) -> None:
    client = live_server.client()
    first = client.responses.create(model="openai/gpt-4o", input="What is 2+2?", instructions="Be terse.")
    HTTP.delete(fake_upstream.url + "/fake/requests")
    second = client.responses.create(
        model="openai/gpt-4o",
        previous_response_id=first.id,
        input=[
            {"role": "user", "content": "What is 2+2?"},  # repeats the last user turn: dropped upstream
            {"role": "user", "content": [{"type": "input_text", "text": "And 3+3?"}]},
        ],
    )
    assert second.previous_response_id == first.id
    (upstream,) = upstream_requests(fake_upstream)
    assert upstream["messages"] == [  # no system message: instructions are not inherited
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "Hello from gpt-4o!"},
        {"role": "user", "content": [{"type": "text", "text": "And 3+3?"}]},
    ]
    items = client.responses.input_items.list(second.id, order="asc").data
    assert [item.type for item in items] == ["message", "message"]
    assert all(item.id and item.id.startswith("msg_") for item in items)
    assert [item.content[0].text for item in items] == ["What is 2+2?", "And 3+3?"]  # type: ignore[union-attr]
    first_items = client.responses.input_items.list(first.id).data
    assert first_items[0].role == "user" and first_items[0].content[0].type == "input_text"  # type: ignore[union-attr]


def test_input_items_pagination(live_server: Server) -> None:
    client = live_server.client()
    created = client.responses.create(
        model="openai/gpt-4o", input=[{"role": "user", "content": f"m{i}"} for i in range(5)]
    )
    url = f"{live_server.url}/v1/responses/{created.id}/input_items"
    asc = HTTP.get(url, params={"order": "asc", "limit": 2}).json()
    texts = [i["content"][0]["text"] for i in asc["data"]]
    assert texts == ["m0", "m1"] and asc["has_more"] is True
    nxt = HTTP.get(url, params={"order": "asc", "limit": 10, "after": asc["last_id"]}).json()
    assert [i["content"][0]["text"] for i in nxt["data"]] == ["m2", "m3", "m4"] and nxt["has_more"] is False
    desc = HTTP.get(url).json()
    assert [i["content"][0]["text"] for i in desc["data"]] == ["m4", "m3", "m2", "m1", "m0"]
    # the SDK's auto-pagination walks the cursor
    assert [i.content[0].text for i in client.responses.input_items.list(created.id, limit=2)] == [  # type: ignore[union-attr]
        "m4",
        "m3",
        "m2",
        "m1",
        "m0",
    ]
    assert HTTP.get(url, params={"after": "msg_nope"}).status_code == 404


def test_image_urls_hidden_unless_included(live_server: Server) -> None:
    client = live_server.client()
    created = client.responses.create(
        model="openai/gpt-4o",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "what is it"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
                ],
            }
        ],
    )
    plain = client.responses.input_items.list(created.id).data[0]
    assert plain.content[1].image_url is None  # type: ignore[union-attr]
    shown = client.responses.input_items.list(created.id, include=["message.input_image.image_url"]).data[0]
    assert shown.content[1].image_url == "data:image/png;base64,iVBORw0KGgo="  # type: ignore[union-attr]
    assert shown.content[1].detail == "auto"  # type: ignore[union-attr]


def test_extra_fields_and_options_reach_upstream(live_server: Server, fake_upstream: Process) -> None:
    client = live_server.client()
    HTTP.delete(fake_upstream.url + "/fake/requests")
    response = client.responses.create(
        model="openai/gpt-4o",
        input="hi",
        top_logprobs=2,
        service_tier="flex",
        safety_identifier="u1",
        prompt_cache_key="k1",
        reasoning={"effort": "low"},
        text={"format": {"type": "json_object"}},
        extra_body={"guided_choice": ["a", "b"]},
        stream_options={"include_obfuscation": False},  # type: ignore[call-overload]
    )
    (upstream,) = upstream_requests(fake_upstream)
    assert upstream == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "logprobs": True,
        "response_format": {"type": "json_object"},
        "stream": True,
        "stream_options": {"include_usage": True, "include_obfuscation": False},
        "top_logprobs": 2,
        "safety_identifier": "u1",
        "service_tier": "flex",
        "reasoning_effort": "low",
        "prompt_cache_key": "k1",
        "guided_choice": ["a", "b"],
    }
    assert response.text.format.type == "json_object"  # type: ignore[union-attr]
    assert response.top_logprobs == 2 and response.reasoning is not None


def test_function_tools_round_trip(live_server: Server, fake_upstream: Process) -> None:
    client = live_server.client()
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ]
    HTTP.delete(fake_upstream.url + "/fake/requests")
    events = list(
        client.responses.create(
            model="openai/tool-call",
            input="Weather in Paris?",
            tools=tools,  # type: ignore[arg-type]
            stream=True,
        )
    )
    types = [e.type for e in events]
    assert (
        "response.function_call_arguments.delta" in types and "response.function_call_arguments.done" in types
    )
    final = events[-1].response
    call = final.output[-1]
    assert (
        call.type == "function_call" and call.name == "get_weather" and call.arguments == '{"city": "Paris"}'
    )
    assert call.call_id == "call_fake1" and call.status == "completed" and call.id.startswith("fc_")
    assert final.tools[0].name == "get_weather"  # type: ignore[union-attr]

    follow = client.responses.create(
        model="openai/gpt-4o",
        previous_response_id=final.id,
        tools=tools,  # type: ignore[arg-type]
        input=[{"type": "function_call_output", "call_id": "call_fake1", "output": "Sunny"}],
    )
    assert follow.output_text == "Hello from gpt-4o!"
    first_body, second_body = upstream_requests(fake_upstream)
    function = {k: v for k, v in tools[0].items() if k != "type"}
    assert first_body["tools"] == [{"type": "function", "function": function}]
    assert first_body["parallel_tool_calls"] is True
    assert second_body["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_fake1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_fake1", "content": "Sunny"},
    ]
