"""Conversations: the API through the SDK, responses inside a conversation, and concurrency."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from openai.types.conversations import ConversationItemList

from tests.support import HTTP, SEEDS, Process, Server, upstream_requests

SEED_000 = json.loads((SEEDS / "000_1f536b0c2a29c226.txt").read_text())


def test_seed_000_conversation_turns(replay_server: Server) -> None:
    client = replay_server.client(SEED_000["test_id"])
    conversation = client.conversations.create()
    first = client.responses.create(
        model="openai/gpt-4o", input=[{"role": "user", "content": "Say hello"}], conversation=conversation.id
    )
    assert first.output_text == "Hello! How can I assist you today?"
    assert first.conversation is not None and first.conversation.id == conversation.id
    events = list(
        client.responses.create(
            model="openai/gpt-4o",
            input=[{"role": "user", "content": "Say goodbye"}],
            conversation=conversation.id,
            stream=True,
        )
    )
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    expected = "".join(
        c["__data__"]["choices"][0]["delta"]["content"] or ""
        for c in SEED_000["response"]["body"]
        if c["__data__"]["choices"]
    )
    assert events[-1].type == "response.completed"
    assert deltas == expected == events[-1].response.output_text

    items = client.conversations.items.list(conversation.id, order="asc").data
    assert len(items) >= 4
    assert [(i.type, i.role) for i in items] == [  # type: ignore[union-attr]
        ("message", "user"),
        ("message", "assistant"),
        ("message", "user"),
        ("message", "assistant"),
    ]
    assert items[0].content[0].type == "input_text" and items[0].content[0].text == "Say hello"  # type: ignore[union-attr]
    assert items[1].content[0].type == "output_text"  # type: ignore[union-attr]
    assert items[3].content[0].text == expected  # type: ignore[union-attr]


def test_context_from_items_keeps_string_content(replay_server: Server) -> None:
    test_id = (
        "tests/integration/responses/test_conversation_responses.py::TestConversationResponses::"
        "test_conversation_context_loading[txt=openai/gpt-4o]"
    )
    client = replay_server.client(test_id)
    conversation = client.conversations.create(
        items=[
            {"type": "message", "role": "user", "content": "My name is Alice. I like to eat apples."},
            {"type": "message", "role": "assistant", "content": "Hello Alice!"},
        ]
    )
    response = client.responses.create(
        model="openai/gpt-4o",
        conversation=conversation.id,
        input=[{"role": "user", "content": "What do I like to eat?"}],
    )
    assert "apple" in response.output_text.lower()


@pytest.mark.parametrize(
    "test_name", ["test_conversation_basic_workflow", "test_conversation_backward_compatibility"]
)
def test_peer_single_turn_recordings(replay_server: Server, test_name: str) -> None:
    prefix = "tests/integration/responses/test_conversation_responses.py::TestConversationResponses::"
    client = replay_server.client(f"{prefix}{test_name}[txt=openai/gpt-4o]")
    if test_name == "test_conversation_basic_workflow":
        conversation = client.conversations.create(metadata={"topic": "test"})
        response = client.responses.create(
            model="openai/gpt-4o",
            conversation=conversation.id,
            input=[{"role": "user", "content": "What are the 5 Ds of dodgeball?"}],
        )
        roles = [i.role for i in client.conversations.items.list(conversation.id).data]  # type: ignore[union-attr]
        assert "user" in roles and "assistant" in roles
    else:
        response = client.responses.create(
            model="openai/gpt-4o", input=[{"role": "user", "content": "Hello world"}]
        )
    assert response.output_text.strip()


def test_conversation_crud(live_server: Server) -> None:
    client = live_server.client()
    conversation = client.conversations.create(
        metadata={"a": "1"},
        items=[
            {"type": "message", "role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "second"}]},
        ],
    )
    assert conversation.id.startswith("conv_") and len(conversation.id) == 53
    assert conversation.object == "conversation" and conversation.metadata == {"a": "1"}
    assert client.conversations.retrieve(conversation.id).created_at == conversation.created_at
    updated = client.conversations.update(conversation.id, metadata={"b": "2"})
    assert updated.metadata == {"b": "2"}

    added = client.conversations.items.create(
        conversation.id,
        items=[
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "third"}]},
            {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        ],
    )
    assert len(added.data) == 2 and added.has_more is False
    assert added.data[0].id.startswith("msg_") and added.data[1].id.startswith("item_")  # type: ignore[union-attr]

    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [getattr(i, "role", i.type) for i in items] == ["user", "assistant", "user", "function_call"]
    assert items[0].content[0].type == "input_text" and items[0].content[0].text == "first"  # type: ignore[union-attr]
    one = client.conversations.items.retrieve(items[1].id, conversation_id=conversation.id)  # type: ignore[arg-type]
    assert one.content[0].text == "second"  # type: ignore[union-attr]

    after_delete = client.conversations.items.delete(items[0].id, conversation_id=conversation.id)  # type: ignore[arg-type]
    assert after_delete.id == conversation.id
    assert len(client.conversations.items.list(conversation.id).data) == 3
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(items[0].id, conversation_id=conversation.id)  # type: ignore[arg-type]

    deleted = client.conversations.delete(conversation.id)
    assert deleted.deleted is True and deleted.id == conversation.id
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(conversation.id)


def test_items_pagination_both_orders(live_server: Server) -> None:
    client = live_server.client()
    conversation = client.conversations.create(items=[{"role": "user", "content": f"m{i}"} for i in range(5)])
    url = f"{live_server.url}/v1/conversations/{conversation.id}/items"
    texts = lambda page: [i["content"][0]["text"] for i in page["data"]]  # noqa: E731
    asc = HTTP.get(url, params={"order": "asc", "limit": 2}).json()
    assert texts(asc) == ["m0", "m1"] and asc["has_more"] is True
    assert asc["first_id"] == asc["data"][0]["id"] and asc["last_id"] == asc["data"][1]["id"]
    rest = HTTP.get(url, params={"order": "asc", "limit": 5, "after": asc["last_id"]}).json()
    assert texts(rest) == ["m2", "m3", "m4"] and rest["has_more"] is False
    desc = HTTP.get(url, params={"limit": 3}).json()
    assert texts(desc) == ["m4", "m3", "m2"] and desc["has_more"] is True
    desc_rest = HTTP.get(url, params={"limit": 3, "after": desc["last_id"]}).json()
    assert texts(desc_rest) == ["m1", "m0"] and desc_rest["has_more"] is False
    walked = [i.content[0].text for i in client.conversations.items.list(conversation.id, limit=2)]  # type: ignore[union-attr]
    assert walked == ["m4", "m3", "m2", "m1", "m0"]
    empty = HTTP.get(url, params={"order": "asc", "after": rest["last_id"]}).json()
    assert empty["data"] == [] and empty["first_id"] == "" == empty["last_id"]
    for page in (asc, rest, desc, desc_rest, empty):  # every page is what the SDK type declares
        ConversationItemList.model_validate(page, strict=True)


def test_items_added_between_turns_are_history(live_server: Server, fake_upstream: Process) -> None:
    client = live_server.client()
    conversation = client.conversations.create(items=[{"role": "user", "content": "plain string"}])
    HTTP.delete(fake_upstream.url + "/fake/requests")
    client.responses.create(model="openai/gpt-4o", input="turn one", conversation=conversation.id)
    client.conversations.items.create(conversation.id, items=[{"role": "user", "content": "added between"}])
    client.responses.create(
        model="openai/gpt-4o",
        input=[{"role": "user", "content": "turn two"}],
        conversation={"id": conversation.id},
    )
    first, second = upstream_requests(fake_upstream)
    assert first["messages"] == [
        {"role": "user", "content": "plain string"},
        {"role": "user", "content": "turn one"},
    ]
    assert second["messages"] == [
        {"role": "user", "content": "plain string"},
        {"role": "user", "content": [{"type": "text", "text": "turn one"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello from gpt-4o!"}]},
        {"role": "user", "content": "added between"},
        {"role": "user", "content": "turn two"},
    ]


def test_failed_turn_leaves_conversation_unchanged(live_server: Server) -> None:
    client = live_server.client()
    conversation = client.conversations.create(items=[{"role": "user", "content": "keep me"}])
    events = list(
        client.responses.create(
            model="openai/fail-midstream", input="boom", conversation=conversation.id, stream=True
        )
    )
    assert events[-1].type == "response.failed"
    with pytest.raises(openai.APIStatusError):
        client.responses.create(model="openai/server-error", input="boom", conversation=conversation.id)
    items = client.conversations.items.list(conversation.id).data
    assert [i.content[0].text for i in items] == ["keep me"]  # type: ignore[union-attr]
    # the conversation is free again: the next turn runs
    assert client.responses.create(
        model="openai/gpt-4o", input="ok", conversation=conversation.id
    ).output_text


def test_store_false_still_records_the_turn(live_server: Server) -> None:
    client = live_server.client()
    conversation = client.conversations.create()
    response = client.responses.create(
        model="openai/gpt-4o", input="hi", conversation=conversation.id, store=False
    )
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    assert len(client.conversations.items.list(conversation.id).data) == 2


def test_deleted_conversation_keeps_its_responses(live_server: Server) -> None:
    client = live_server.client()
    conversation = client.conversations.create()
    response = client.responses.create(model="openai/gpt-4o", input="hi", conversation=conversation.id)
    client.conversations.delete(conversation.id)
    assert client.responses.retrieve(response.id).output_text == response.output_text
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="openai/gpt-4o", input="again", conversation=conversation.id)


def test_concurrent_turns_are_serialized(live_server: Server, fake_upstream: Process) -> None:
    client = live_server.client()
    conversation = client.conversations.create()
    HTTP.delete(fake_upstream.url + "/fake/requests")

    def turn(i: int) -> Any:
        return client.responses.create(model="openai/gpt-4o", input=f"turn {i}", conversation=conversation.id)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(turn, range(20)))
    assert all(r.status == "completed" for r in responses)
    items = list(client.conversations.items.list(conversation.id, order="asc", limit=100))
    assert len(items) == 40
    users = [i.content[0].text for i in items[0::2]]  # type: ignore[union-attr]
    assistants = [i.role for i in items[1::2]]  # type: ignore[union-attr]
    assert sorted(users) == sorted(f"turn {i}" for i in range(20))  # none lost, none twice
    assert assistants == ["assistant"] * 20  # every turn's pair stays together
    assert len({i.id for i in items}) == 40
    # each turn ran after the one before had finished: turn k saw all k-1 earlier turns
    sizes = sorted(len(body["messages"]) for body in upstream_requests(fake_upstream))
    assert sizes == [2 * k + 1 for k in range(20)]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/v1/conversations/conv_bad", None, 400),
        ("GET", "/v1/conversations/conv_" + "0" * 48, None, 404),
        ("POST", "/v1/conversations/conv_" + "0" * 48, {"metadata": {}}, 404),
        ("DELETE", "/v1/conversations/conv_" + "0" * 48, None, 404),
        (
            "POST",
            "/v1/conversations/conv_" + "0" * 48 + "/items",
            {"items": [{"role": "user", "content": "x"}]},
            404,
        ),
        ("GET", "/v1/conversations/not-a-conv/items", None, 400),
        ("POST", "/v1/conversations", {"items": [{"type": "computer_call"}]}, 400),
        ("POST", "/v1/conversations", {"items": [{"role": "user", "content": "x"}] * 21}, 400),
        ("POST", "/v1/conversations", {"metadata": {f"k{i}": "v" for i in range(17)}}, 400),
        ("POST", "/v1/conversations", {"items": "nope"}, 400),
        ("POST", "/v1/conversations", {"unknown": 1}, 400),
    ],
)
def test_conversation_errors(
    live_server: Server, method: str, path: str, body: dict[str, Any] | None, status: int
) -> None:
    resp = HTTP.request(method, live_server.url + path, json=body)
    assert resp.status_code == status, resp.text
    assert set(resp.json()["error"]) == {"message", "type", "param", "code"}


def test_item_errors(live_server: Server) -> None:
    client = live_server.client()
    conversation = client.conversations.create()
    base = f"{live_server.url}/v1/conversations/{conversation.id}"
    assert HTTP.get(base + "/items/msg_nope").status_code == 404
    assert HTTP.delete(base + "/items/msg_nope").status_code == 404
    assert HTTP.get(base + "/items", params={"after": "msg_nope"}).status_code == 400
    assert HTTP.post(base + "/items", json={"items": []}).status_code == 400
    assert HTTP.post(base, json={}).status_code == 400  # metadata is required for an update
    bad = HTTP.post(base + "/items", json={"items": [{"role": "user", "content": [{"type": "bogus"}]}]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "items[0].content[0].type"


def test_an_item_id_is_used_once(live_server: Server, fake: Process) -> None:
    """A reused item id is a 400 (OpenAI's "Duplicate item found"), never history rewritten in
    place; a response's input with a reused id is refused before the upstream is called."""
    client = live_server.client()
    first = {"id": "msg_" + "a" * 48, "type": "message", "role": "user", "content": "first"}
    conversation = client.conversations.create(items=[first])  # type: ignore[list-item]
    base = f"{live_server.url}/v1/conversations/{conversation.id}"
    again = {**first, "content": "rewritten"}
    for items in ([again], [{**first, "id": "msg_" + "b" * 48}, {**first, "id": "msg_" + "b" * 48}]):
        refused = HTTP.post(base + "/items", json={"items": items})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "duplicate_item"
    turn = HTTP.post(
        f"{live_server.url}/v1/responses",
        json={"model": "openai/gpt-4o", "input": [again], "conversation": conversation.id},
    )
    assert turn.status_code == 400 and turn.json()["error"]["param"] == "input[0].id"
    assert upstream_requests(fake) == []
    items = client.conversations.items.list(conversation.id).data
    assert [item.content[0].text for item in items] == ["first"]  # type: ignore[union-attr]
