"""`POST /v1/embeddings` over real HTTP with the official SDK: the embedded MiniLM model, an
upstream's embedding model through the fake upstream, and an upstream's embeddings recorded
then replayed offline."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest

from responsa.recording.keys import request_key
from tests.support import HTTP, Process, Server, start_server, upstream_requests

LOCAL = "local/all-minilm-l6-v2"
DEAD_UPSTREAM = "http://127.0.0.1:9/v1"  # nothing listens there: replay must not need it
SENTENCES = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."]

pytest.importorskip("onnxruntime", reason="the embedded embedder is not installed")


def fake_vector(text: object, size: int = 8) -> list[float]:
    """What tests/fake_upstream.py answers for one input."""
    digest = hashlib.sha256(json.dumps(text).encode()).digest()
    return [(digest[i % 32] - 128) / 128 for i in range(size)]


def floats(b64: str) -> list[float]:
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process) -> Iterator[Server]:
    """A config file with an upstream chat model and an upstream embedding model; the embedded
    embedder joins them by default."""
    tmp = tmp_path_factory.mktemp("emb")
    config = tmp / "c.yaml"
    config.write_text(
        "providers:\n"
        f"  fake: {{type: openai, base_url: '{fake_upstream.url}/v1', api_key: k}}\n"
        "models:\n"
        "  - {id: fake/chat, provider: fake, provider_model_id: chat-model}\n"
        "  - {id: fake/embedder, provider: fake, provider_model_id: emb-model, model_type: embedding,\n"
        "     embedding_dimension: 8}\n"
        "  - {id: fake/broken, provider: fake, provider_model_id: bad-request, model_type: embedding}\n"
    )
    with start_server(tmp, "emb", {}, ("--config", str(config))) as started:
        yield started


def test_local_model_float_and_base64(server: Server) -> None:
    client = server.client()
    as_floats = client.embeddings.create(model=LOCAL, input="Hello, world.", encoding_format="float")
    by_default = client.embeddings.create(model=LOCAL, input="Hello, world.")  # the SDK asks base64
    vector = as_floats.data[0].embedding
    assert len(vector) == 384 and abs(float(np.linalg.norm(vector)) - 1) < 1e-5
    assert np.allclose(by_default.data[0].embedding, vector, atol=1e-6)
    raw = HTTP.post(
        server.url + "/v1/embeddings",
        json={"model": LOCAL, "input": "Hello, world.", "encoding_format": "base64"},
    ).json()
    assert isinstance(raw["data"][0]["embedding"], str)
    assert np.allclose(floats(raw["data"][0]["embedding"]), vector, atol=1e-6)
    assert raw["object"] == "list" and raw["model"] == LOCAL and raw["data"][0]["object"] == "embedding"


def test_list_input_keeps_order_and_counts_tokens(server: Server) -> None:
    client = server.client()
    texts = ["short", "a somewhat longer sentence about embeddings", "mid length text"]
    result = client.embeddings.create(model=LOCAL, input=texts, encoding_format="float")
    assert [d.index for d in result.data] == [0, 1, 2]
    for text, item in zip(texts, result.data, strict=True):  # batched and padded, or alone: same
        alone = client.embeddings.create(model=LOCAL, input=text, encoding_format="float").data[0]
        assert np.allclose(item.embedding, alone.embedding, atol=1e-4)
    alone_tokens = client.embeddings.create(model=LOCAL, input="short").usage.prompt_tokens
    assert alone_tokens == 3  # [CLS] short [SEP]
    assert result.usage.prompt_tokens == result.usage.total_tokens > 3 * alone_tokens


def test_matches_the_float_reference(server: Server) -> None:
    """The int8 model against all-MiniLM-L6-v2's original float weights run in numpy
    (tests/minilm_reference.py): the same vector within 1e-3 cosine."""
    from tests.minilm_reference import Reference

    reference = Reference()
    expected = np.array([reference.embed(text) for text in SENTENCES])
    result = server.client().embeddings.create(model=LOCAL, input=SENTENCES, encoding_format="float")
    got = np.array([d.embedding for d in result.data])
    for want, have in zip(expected, got, strict=True):
        assert float(want @ have) > 1 - 1e-3
    # The float model's similarity of the first pair (recorded from the reference: 0.7553), and
    # the ordering sentence-transformers' examples show: food~bread far above food~baby.
    assert abs(float(expected[0] @ expected[1]) - 0.7553) < 1e-3
    similarity = got @ got.T
    assert abs(similarity[0, 1] - 0.7553) < 0.01
    assert similarity[0, 1] > 0.5 > 0 > similarity[0, 2]


def test_models_list_the_embedders(server: Server) -> None:
    client = server.client()
    listed = {m.id: m for m in client.models.list().data}
    metadata: dict[str, Any] = listed[LOCAL].custom_metadata  # type: ignore[attr-defined]
    assert metadata["model_type"] == "embedding" and metadata["embedding_dimension"] == 384
    assert listed["fake/embedder"].custom_metadata["embedding_dimension"] == 8  # type: ignore[attr-defined]
    assert "embedding_dimension" not in listed["fake/chat"].custom_metadata  # type: ignore[attr-defined]
    retrieved = client.models.retrieve(LOCAL)
    assert retrieved.custom_metadata["embedding_dimension"] == 384  # type: ignore[attr-defined]


def test_upstream_embedding_model(server: Server, fake_upstream: Process) -> None:
    HTTP.delete(fake_upstream.url + "/fake/requests")
    client = server.client()
    result = client.embeddings.create(model="fake/embedder", input=["one", "two"], encoding_format="float")
    assert [d.embedding for d in result.data] == [fake_vector("one"), fake_vector("two")]
    assert result.model == "fake/embedder" and result.usage.total_tokens == 2
    sized = client.embeddings.create(model="fake/embedder", input="one", dimensions=4, user="u1")
    assert sized.data[0].embedding == fake_vector("one", 4)
    tokens = client.embeddings.create(model="fake/embedder", input=[1, 2, 3], encoding_format="float")
    assert tokens.data[0].embedding == fake_vector([1, 2, 3])
    first, second, third = upstream_requests(fake_upstream)
    assert first["model"] == "emb-model" and first["input"] == ["one", "two"]
    assert second["dimensions"] == 4 and second["user"] == "u1"
    assert third["input"] == [1, 2, 3]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "nobody/nothing", "input": "x"}, 404, "model"),
        ({"model": "fake/chat", "input": "x"}, 400, "model"),  # a language model
        ({"model": LOCAL, "input": ""}, 400, "input"),
        ({"model": LOCAL, "input": []}, 400, "input"),
        ({"model": LOCAL, "input": ["fine", ""]}, 400, "input"),
        ({"model": LOCAL, "input": "x", "dimensions": 128}, 400, "dimensions"),
        ({"model": LOCAL, "input": [101, 7592, 102]}, 400, "input"),  # token arrays
        ({"model": LOCAL, "input": "x", "encoding_format": "int8"}, 400, "encoding_format"),
    ],
)
def test_errors(server: Server, body: dict[str, Any], status: int, param: str) -> None:
    answer = HTTP.post(server.url + "/v1/embeddings", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["param"] == param


def test_errors_through_the_sdk(server: Server) -> None:
    client = server.client()
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="nobody/nothing", input="x")
    with pytest.raises(openai.BadRequestError, match="not an embedding model"):
        client.embeddings.create(model="fake/chat", input="x")
    with pytest.raises(openai.BadRequestError, match="cannot be shortened"):
        client.embeddings.create(model=LOCAL, input="x", dimensions=64)
    with pytest.raises(openai.BadRequestError, match="token arrays"):
        client.embeddings.create(model=LOCAL, input=[[101, 102]])
    with pytest.raises(openai.BadRequestError, match="not a language model"):
        client.responses.create(model=LOCAL, input="hi")
    with pytest.raises(openai.BadRequestError, match="Invalid input"):  # the upstream's own 400
        client.embeddings.create(model="fake/broken", input="x")


def test_record_then_replay_upstream_embeddings(tmp_path: Path, fake_upstream: Process) -> None:
    cassettes = tmp_path / "cassettes"
    cassettes.mkdir()

    def serving(name: str, mode: str, upstream: str) -> Server:
        env = {
            "OPENAI_API_KEY": "k",
            "OPENAI_BASE_URL": upstream,
            "RESPONSA_RECORDING_MODE": mode,
            "RESPONSA_RECORDING_DIR": str(cassettes),
        }
        return start_server(tmp_path, name, env)

    model = "openai/text-embedding-3-small"
    with serving("record", "record", fake_upstream.url + "/v1") as recorder:
        recorded = recorder.client("suite::emb").embeddings.create(model=model, input=["a", "b"])
        local = recorder.client("suite::emb").embeddings.create(model=LOCAL, input="a")
    (path,) = cassettes.glob("*.json")  # the in-process embedder is not recorded
    data = json.loads(path.read_text())
    request = data["request"]
    assert request["endpoint"] == "/v1/embeddings" and request["method"] == "POST"
    assert request["body"] == {"model": "text-embedding-3-small", "input": ["a", "b"]}
    assert path.name == f"{request_key('POST', '/v1/embeddings', request['body'], 'suite::emb')}.json"
    assert data["response"]["body"]["__type__"].endswith("CreateEmbeddingResponse")

    with serving("replay", "replay", DEAD_UPSTREAM) as replayer:
        client = replayer.client("suite::emb")
        replayed = client.embeddings.create(model=model, input=["a", "b"])
        assert [d.embedding for d in replayed.data] == [d.embedding for d in recorded.data]
        assert replayed.data[1].embedding == fake_vector("b")
        again = client.embeddings.create(model=LOCAL, input="a")  # computed, no recording needed
        assert np.allclose(again.data[0].embedding, local.data[0].embedding, atol=1e-6)
        with pytest.raises(openai.InternalServerError, match="No recording for /v1/embeddings"):
            client.embeddings.create(model=model, input=["a", "c"])  # never recorded
