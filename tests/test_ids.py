"""Item ids made for a response carry half of its id, so a reference finds the response."""

from __future__ import annotations

from responsa import ids


def test_item_ids_made_for_a_response_point_back_to_it() -> None:
    response = ids.response_id()
    item = ids.item_id("msg", response)
    assert item.startswith("msg_") and len(item) == len(ids.message_id())
    assert ids.response_stem(item) == response[5:29] and ids.belongs_to(item, response)
    assert not ids.belongs_to(item, ids.response_id())
    assert ids.item_id("msg", "resp_short").startswith("msg_")  # odd response ids: a plain id
    for other in ("msg_client_1", "fc_" + "z" * 48, "call_abc", ""):
        assert ids.response_stem(other) is None
