"""The chat pass-through, models, providers and health."""

from __future__ import annotations

import pytest

from responsa.config import local_embedder_available
from tests.support import HTTP, Process, Server, upstream_requests


def test_chat_non_streaming(live_server: Server, fake_upstream: Process) -> None:
    client = live_server.client()
    HTTP.delete(fake_upstream.url + "/fake/requests")
    result = client.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "user", "content": "hi"}],
        temperature=0.1,
        extra_body={"top_k": 3},
    )
    assert result.choices[0].message.content == "Hello from gpt-4o!"
    (body,) = upstream_requests(fake_upstream)
    assert body == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.1,
        "top_k": 3,
    }


def test_chat_streaming(live_server: Server) -> None:
    client = live_server.client()
    chunks = list(
        client.chat.completions.create(
            model="openai/gpt-4o",
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "hi"}],
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from gpt-4o!"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 16


def test_chat_errors(live_server: Server) -> None:
    resp = HTTP.post(
        live_server.url + "/v1/chat/completions",
        json={"model": "openai/bad-request", "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_base64"
    resp = HTTP.post(
        live_server.url + "/v1/chat/completions",
        json={"model": "openai/bad-request", "stream": True, "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 400
    resp = HTTP.post(
        live_server.url + "/v1/chat/completions", json={"model": "openai/gpt-4o", "messages": []}
    )
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "messages"
    # No provider is named "x": the default provider (openai, with OPENAI_API_KEY and no config)
    # serves the whole name, as vLLM-style names ("Qwen/Qwen2.5-7B") need.
    resp = HTTP.post(
        live_server.url + "/v1/chat/completions",
        json={"model": "x/y", "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 200 and resp.json()["model"] == "x/y"
    lines = HTTP.post(
        live_server.url + "/v1/chat/completions",
        json={
            "model": "openai/fail-midstream",
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
        },
    ).text
    assert '"error"' in lines.split("\n\n")[-3] and lines.endswith("data: [DONE]\n\n")


def test_models_providers_health(live_server: Server) -> None:
    assert HTTP.get(live_server.url + "/v1/health").json() == {"status": "OK"}
    models = live_server.client().models.list().data
    (model,) = [m for m in models if m.id == "openai/fake-model"]
    assert model.owned_by == "openai"
    assert model.custom_metadata == {
        "model_type": "llm",
        "provider_id": "openai",  # type: ignore[attr-defined]
        "provider_resource_id": "fake-model",
    }
    assert live_server.client().models.retrieve("openai/fake-model").id == "openai/fake-model"
    # a name the provider would pass on, but does not list, does not exist
    for unknown in ("openai/gpt-4o", "openai/" + "x" * 1000, "nobody/fake-model"):
        missing = HTTP.get(f"{live_server.url}/v1/models/{unknown}")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    providers = HTTP.get(live_server.url + "/v1/providers").json()["data"]
    assert providers[0] == {
        "api": "inference",
        "provider_id": "openai",
        "provider_type": "remote::openai",
        "config": {},
        "health": {"status": "OK"},
    }
    embedder = ["local-embeddings"] if local_embedder_available() else []  # on by default
    assert [p["provider_id"] for p in providers] == ["openai", *embedder]


@pytest.mark.parametrize("header", ["X-Responsa-Test-Id", "X-OGX-Provider-Data"])
def test_test_id_headers_accepted(live_server: Server, header: str) -> None:
    value = "t" if header == "X-Responsa-Test-Id" else '{"__test_id": "t", "tavily_api_key": "x"}'
    resp = HTTP.post(
        live_server.url + "/v1/responses",
        json={"model": "openai/gpt-4o", "input": "hi"},
        headers={header: value},
    )
    assert resp.status_code == 200
    bad = HTTP.post(
        live_server.url + "/v1/responses",
        json={"model": "openai/gpt-4o", "input": "hi"},
        headers={"X-OGX-Provider-Data": "{not json"},
    )
    assert bad.status_code == 200
