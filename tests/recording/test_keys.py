"""Recording keys: the normalization rules of SPEC §2 (pure functions)."""

from __future__ import annotations

import hashlib
import json

from responsa.recording.keys import normalize, request_key
from tests.support import SEEDS


def test_floats_are_rounded_and_long_decimals_in_strings_rewritten() -> None:
    body = {
        "temperature": 0.7000000001,
        "messages": [{"role": "user", "content": "pi is 3.14159265 not 3.14"}],
    }
    assert normalize(body) == {
        "temperature": 0.7,
        "messages": [{"role": "user", "content": "pi is 3.14159 not 3.14"}],
    }


def test_stream_options_and_project_id_do_not_count() -> None:
    base = {"model": "m", "messages": [], "stream": True}
    with_options = {**base, "stream_options": {"include_usage": True}}
    assert request_key("POST", "/v1/chat/completions", base, "t") == request_key(
        "POST", "/v1/chat/completions", with_options, "t"
    )
    assert normalize({"extra_body": {"project_id": "p", "x": 1}}) == {"extra_body": {"x": 1}}


def test_file_search_text_is_normalized() -> None:
    text = (
        "[1] document_id: 0f8fad5b-d9cb-469f-a165-70867728950e, score: 0.8123, attributes: {'a': 1}\n"
        "see <|0f8fad5b-d9cb-469f-a165-70867728950e|>"
    )
    assert normalize({"c": text}) == {
        "c": "[1] document_id: __NORMALIZED__, score: __NORMALIZED__\nsee <|__NORMALIZED__|>"
    }


def test_key_is_sha256_of_sorted_json() -> None:
    body = {"b": 1, "a": [1.5, "x"]}
    expected = hashlib.sha256(
        json.dumps(
            {"method": "POST", "endpoint": "/v1/chat/completions", "body": body, "test_id": "t"},
            sort_keys=True,
        ).encode()
    ).hexdigest()
    assert request_key("POST", "/v1/chat/completions", {"a": [1.5, "x"], "b": 1}, "t") == expected
    assert request_key("POST", "/v1/chat/completions", body, "other") != expected


def test_model_list_keys_have_no_test_id() -> None:
    assert request_key("GET", "/v1/models", {}, "a") == request_key("GET", "/v1/models", {}, "b")


def test_seed_001_key_ignores_its_stream_options() -> None:
    seed = json.loads((SEEDS / "001_de0f71cbc77741e1.txt").read_text())
    body = seed["request"]["body"]
    assert "stream_options" in body
    stripped = {k: v for k, v in body.items() if k != "stream_options"}
    assert request_key("POST", "/v1/chat/completions", body, seed["test_id"]) == request_key(
        "POST", "/v1/chat/completions", stripped, seed["test_id"]
    )
