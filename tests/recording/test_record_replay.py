"""Record against the fake upstream, then replay offline: same answers, files in the seeds' format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from responsa.recording.keys import request_key
from tests.support import HTTP, Process, Server, start_server, upstream_requests

DEAD_UPSTREAM = "http://127.0.0.1:9/v1"  # nothing listens there: replay must not need it


@pytest.fixture(scope="module")
def cassettes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cassettes")


@pytest.fixture(scope="module")
def recorder(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process, cassettes: Path
) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("rec"),
        "record",
        {
            "OPENAI_API_KEY": "sk-secret-never-stored",
            "OPENAI_BASE_URL": fake_upstream.url + "/v1",
            "RESPONSA_RECORDING_MODE": "record",
            "RESPONSA_RECORDING_DIR": str(cassettes),
        },
    )
    yield server
    server.stop()


def replayer(tmp: Path, cassettes: Path, mode: str = "replay", upstream: str = DEAD_UPSTREAM) -> Server:
    return start_server(
        tmp,
        mode,
        {
            "OPENAI_BASE_URL": upstream,
            "OPENAI_API_KEY": "k",
            "RESPONSA_RECORDING_MODE": mode,
            "RESPONSA_RECORDING_DIR": str(cassettes),
        },
    )


def test_record_then_replay(recorder: Server, cassettes: Path, tmp_path: Path) -> None:
    client = recorder.client("suite::test_one")
    first = client.responses.create(model="openai/gpt-4o", input="Say hello")
    second = client.responses.create(
        model="openai/gpt-4o", input="Again", previous_response_id=first.id, stream=True
    )
    streamed = "".join(e.delta for e in second if e.type == "response.output_text.delta")
    chat = client.chat.completions.create(model="openai/gpt-4o", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="openai/bad-request", input="broken image")

    files = sorted(cassettes.glob("*.json"))
    assert len(files) == 4
    for path in files:
        text = path.read_text()
        assert "sk-secret-never-stored" not in text
        data = json.loads(text)
        assert set(data) == {"test_id", "request", "response", "id_normalization_mapping"}
        assert data["test_id"] == "suite::test_one"
        request = data["request"]
        assert request["headers"] == {} and request["endpoint"] == "/v1/chat/completions"
        key = request_key("POST", request["endpoint"], request["body"], data["test_id"])
        assert path.name == f"{key}.json"
        body = data["response"]["body"]
        for chunk in body if isinstance(body, list) else [body] if body else []:
            assert chunk["__type__"].startswith("openai.types.chat.")
            assert chunk["__data__"]["id"] == f"rec-{key[:12]}" and chunk["__data__"]["created"] == 0

    with replayer(tmp_path, cassettes) as replay:
        again = replay.client("suite::test_one")
        r1 = again.responses.create(model="openai/gpt-4o", input="Say hello")
        assert r1.output_text == first.output_text
        r2 = again.responses.create(model="openai/gpt-4o", input="Again", previous_response_id=r1.id)
        assert r2.output_text == streamed
        c = again.chat.completions.create(model="openai/gpt-4o", messages=[{"role": "user", "content": "x"}])
        assert c.choices[0].message.content == chat.choices[0].message.content
        with pytest.raises(openai.BadRequestError, match="Invalid base64"):
            again.responses.create(model="openai/bad-request", input="broken image")

        resp = HTTP.post(
            replay.url + "/v1/responses",
            json={"model": "openai/gpt-4o", "input": "Say hello"},
            headers={"X-Responsa-Test-Id": "suite::another_test"},
        )
        assert resp.status_code == 500 and resp.headers["x-should-retry"] == "false"
        error = resp.json()["error"]
        assert error["code"] == "replay_miss" and "suite::another_test" in error["message"]
        # another test's recordings are not shown to this one: neither their prompts nor paths
        assert "No recording has this test id" in error["message"]
        assert "Say hello" not in error["message"] and str(cassettes) not in error["message"]
        same_test = HTTP.post(
            replay.url + "/v1/responses",
            json={"model": "openai/gpt-4o", "input": "Say hello, please"},
            headers={"X-Responsa-Test-Id": "suite::test_one"},
        ).json()["error"]["message"]
        assert "Closest recording of this test: " in same_test and "Say hello, please" in same_test
        assert str(cassettes) not in same_test and str(tmp_path) not in same_test
        assert str(cassettes) in replay.log_tail(400)  # the whole diagnostic is in the server log


def test_record_if_missing(recorder: Server, cassettes: Path, fake_upstream: Process, tmp_path: Path) -> None:
    recorder.client("suite::mixed").responses.create(model="openai/gpt-4o", input="known")
    with replayer(tmp_path, cassettes, "record-if-missing", fake_upstream.url + "/v1") as server:
        client = server.client("suite::mixed")
        HTTP.delete(fake_upstream.url + "/fake/requests")
        client.responses.create(model="openai/gpt-4o", input="known")
        assert upstream_requests(fake_upstream) == []  # served from the recording
        client.responses.create(model="openai/gpt-4o", input="new")
        assert len(upstream_requests(fake_upstream)) == 1
    assert any("new" in p.read_text() for p in cassettes.glob("*.json"))


def test_streamed_replay_miss_fails_the_response(tmp_path: Path, cassettes: Path) -> None:
    with replayer(tmp_path, cassettes) as server:
        events = list(
            server.client("suite::nothing").responses.create(model="openai/gpt-4o", input="?", stream=True)
        )
        assert events[-1].type == "response.failed"
        assert events[-1].response.error is not None
        assert "No recording" in events[-1].response.error.message
