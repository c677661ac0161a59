"""Model names: configured ids, `<provider>/<model>`, bare names clients hard-code (a default
provider), aliases, and model types other than llm."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.support import HTTP, Process, Server, start_server, upstream_requests


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process) -> Iterator[Server]:
    """A config file with explicit models: no default provider, so unknown names are 404."""
    tmp = tmp_path_factory.mktemp("catalog")
    config = tmp / "responsa.yaml"
    config.write_text(
        f"""
providers:
  fake: {{type: openai, base_url: "{fake_upstream.url}/v1", api_key: k}}
models:
  - {{id: fake/gpt-4o, provider: fake, provider_model_id: gpt-4o}}
  - {{id: fake/reranker, provider: fake, provider_model_id: rr, model_type: rerank}}
aliases:
  gpt-4o: fake/gpt-4o
"""
    )
    server = start_server(tmp, "catalog", {}, ("--config", str(config)))
    yield server
    server.stop()


@pytest.mark.parametrize("model", ["nope/model-x", "no-provider-prefix"])
@pytest.mark.parametrize("stream", [False, True])
def test_unknown_models_are_404(catalog_server: Server, model: str, stream: bool) -> None:
    resp = HTTP.post(
        catalog_server.url + "/v1/responses", json={"model": model, "input": "hi", "stream": stream}
    )
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"] == "model_not_found" and resp.json()["error"]["param"] == "model"
    assert HTTP.get(f"{catalog_server.url}/v1/models/{model}").status_code == 404


def test_alias_serves_a_bare_name(catalog_server: Server, fake_upstream: Process) -> None:
    HTTP.delete(fake_upstream.url + "/fake/requests")
    response = catalog_server.client().responses.create(model="gpt-4o", input="hi")
    assert response.model == "gpt-4o" and response.output_text == "Hello from gpt-4o!"
    assert upstream_requests(fake_upstream)[0]["model"] == "gpt-4o"


def test_other_model_types_are_listed_not_served(catalog_server: Server) -> None:
    client = catalog_server.client()
    listed = {m.id: m for m in client.models.list().data}
    assert listed["fake/reranker"].custom_metadata["model_type"] == "rerank"  # type: ignore[attr-defined]
    with pytest.raises(openai.BadRequestError, match="not a language model"):
        client.responses.create(model="fake/reranker", input="hi")


def test_default_provider_serves_bare_names(live_server: Server, fake_upstream: Process) -> None:
    """No config and OPENAI_API_KEY set: provider `openai` serves bare names (`gpt-4o`) too."""
    HTTP.delete(fake_upstream.url + "/fake/requests")
    response = live_server.client().responses.create(model="gpt-4o", input="hi")
    assert response.output_text == "Hello from gpt-4o!" and response.model == "gpt-4o"
    assert upstream_requests(fake_upstream)[0]["model"] == "gpt-4o"


def test_unknown_default_provider_fails_at_start(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("providers: {a: {type: openai, api_key: k}}\ndefault_provider: b\n")
    with pytest.raises(RuntimeError, match="default_provider"):
        start_server(tmp_path, "bad", {}, ("--config", str(config)))
