"""Reasoning both ways: upstream deltas into a reasoning item with its events, sealed
`encrypted_content` for stateless clients, and reasoning sent back upstream."""

from __future__ import annotations

import pytest

from responsa import ids
from responsa.crypto import Sealer, new_key
from responsa.engine.items.reasoning import ReasoningItem
from responsa.engine.model_call import CallOptions, ModelCall
from responsa.engine.response import UsageTotals
from responsa.engine.tools import ToolSet
from responsa.engine.translate import ChatOptions, to_chat_messages
from responsa.errors import InvalidRequest

SEALER = Sealer(new_key())


def chunk(**delta: object) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def run(options: CallOptions, *chunks: dict[str, object]) -> tuple[list[str], ModelCall]:
    response: dict[str, object] = {"id": ids.response_id(), "output": []}
    call = ModelCall(response, UsageTotals(), ToolSet.from_request(None, None), options)
    events = [e for c in chunks for e in call.on_chunk(c)] + call.finish("completed")
    return [e["type"] for e in events], call


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
def test_upstream_reasoning_becomes_an_item_before_the_message(key: str) -> None:
    types, call = run(CallOptions(), chunk(**{key: "Hmm"}), chunk(**{key: "."}), chunk(content="Four."))
    assert types == [
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    reasoning, message = call.response["output"]  # type: ignore[misc]
    assert message["type"] == "message"
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "Hmm."}] and reasoning["summary"] == []
    assert call.assistant_message() == {"role": "assistant", "content": "Four.", key: "Hmm."}


def test_summary_events_when_asked() -> None:
    types, call = run(CallOptions(summary=True), chunk(reasoning_content="Plan"), chunk(content="x"))
    assert (
        "response.reasoning_summary_part.added" in types and "response.reasoning_summary_text.done" in types
    )
    assert call.response["output"][0]["summary"] == [{"type": "summary_text", "text": "Plan"}]  # type: ignore[index]


def test_ogx_keeps_the_peer_form_of_the_reply() -> None:
    _, call = run(CallOptions(faithful=False), chunk(reasoning_content="Plan"), chunk(content="x"))
    assert call.assistant_message() == {"role": "assistant", "content": "x"}


def test_encrypted_content_round_trip() -> None:
    _, call = run(CallOptions(sealer=SEALER), chunk(reasoning="Private."), chunk(content="ok"))
    item = call.response["output"][0]  # type: ignore[index]
    assert item["encrypted_content"].startswith("rs1.") and "Private" not in item["encrypted_content"]
    stateless = {
        "type": "reasoning",
        "id": item["id"],
        "summary": [],
        "content": None,
        "encrypted_content": item["encrypted_content"],
    }
    messages = to_chat_messages(
        [stateless, {"role": "assistant", "content": "ok"}], options=ChatOptions(sealer=SEALER)
    )
    assert messages == [{"role": "assistant", "content": "ok", "reasoning": "Private."}]


@pytest.mark.parametrize(
    "token",
    ["gAAAAABnotours", "rs1.AAAA", "rs1." + "A" * 80],
)
def test_foreign_or_malformed_ciphertext_is_400(token: str) -> None:
    item = {"type": "reasoning", "summary": [], "encrypted_content": token}
    with pytest.raises(InvalidRequest) as info:
        to_chat_messages([item, {"role": "assistant", "content": "x"}], options=ChatOptions(sealer=SEALER))
    assert info.value.param == "input[0].encrypted_content" and info.value.code == "invalid_encrypted_content"


def test_another_servers_key_and_another_purpose_are_refused() -> None:
    token = Sealer(new_key()).seal("reasoning", {"text": "x"})
    with pytest.raises(InvalidRequest, match="another server key"):
        SEALER.open("reasoning", token, param="p")
    mine = SEALER.seal("compaction", {"text": "x"})
    with pytest.raises(InvalidRequest, match="altered"):
        SEALER.open("reasoning", mine, param="p")
    flipped = mine[:-3] + ("A" if mine[-3] != "A" else "B") + mine[-2:]
    with pytest.raises(InvalidRequest, match="altered"):
        SEALER.open("compaction", flipped, param="p")
    assert SEALER.open("compaction", mine, param="p") == {"text": "x"}


def test_item_is_sealed_once() -> None:
    item = ReasoningItem(0, "rs_1", "reasoning_content", False, SEALER)
    item.delta("abc")
    assert item.item("completed")["encrypted_content"] == item.item("completed")["encrypted_content"]
