"""Message items into upstream messages: shapes kept, refusals accepted, phase not sent."""

from __future__ import annotations

from responsa.engine.translate import normalize_item, to_chat_messages


def test_refusal_parts_in_assistant_history() -> None:
    items = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
        {"role": "user", "content": [{"type": "refusal", "refusal": "odd"}]},
    ]
    assert to_chat_messages(items) == [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
        {"role": "user", "content": [{"type": "text", "text": "odd"}]},
    ]
    shown = normalize_item(items[1])
    assert shown["content"] == [{"type": "refusal", "refusal": "No."}] and shown["status"] == "completed"


def test_phase_stays_on_the_item_not_upstream() -> None:
    item = {"type": "message", "role": "assistant", "phase": "final_answer", "content": "Done."}
    assert to_chat_messages([item]) == [{"role": "assistant", "content": "Done."}]
    assert normalize_item(item)["phase"] == "final_answer"


def test_repeated_last_user_message_is_dropped_only_with_a_previous_turn() -> None:
    previous = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]
    assert to_chat_messages([{"role": "user", "content": "Q"}], previous) == []
    assert to_chat_messages([{"role": "user", "content": "Q"}]) == [{"role": "user", "content": "Q"}]
