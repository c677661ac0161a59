"""Settings and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from responsa.config import ConfigError, load_settings, local_model_available
from tests.support import HTTP, base_env, start_server

GOOD = """
providers:
  openai: {type: openai, base_url: "${UPSTREAM}", api_key: dummy}
models:
  - {id: openai/gpt-4o, provider: openai, provider_model_id: gpt-4o, model_type: llm}
"""


def test_file_and_env(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD + "recording_mode: record\nrecording_dir: rec\n")
    settings = load_settings(path, {"UPSTREAM": "http://u/v1", "RESPONSA_RECORDING_MODE": "replay"})
    assert settings.providers["openai"].base_url == "http://u/v1"
    assert settings.recording_mode == "replay"  # the environment wins
    assert [str(d) for d in settings.recording_dirs] == ["rec"]
    assert settings.models[0].provider_model_id == "gpt-4o"


def test_env_only_provider_serves_any_model() -> None:
    settings = load_settings(None, {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://x/v1"})
    assert settings.providers["openai"].serve_any_model is True
    assert settings.db_url.startswith("sqlite:///") and settings.db_url.endswith("responsa.db")
    bare = load_settings(None, {})
    if local_model_available():  # the embedded default: no key, no network
        assert bare.providers["local"].type == "llama_cpp"
        assert [m.id for m in bare.models] == ["local/smollm2-135m-instruct"]
    else:
        assert bare.providers == {}


@pytest.mark.parametrize(
    ("text", "env", "names"),
    [
        (GOOD, {}, "UPSTREAM"),
        ("providers:\n  openai: {type: ollama}\n", {}, "providers.openai.type"),
        ("providers: {}\nmodels:\n  - {id: a/b, provider: nope, provider_model_id: b}\n", {}, "provider"),
        ("models: [{id: a}]\n", {}, "models.0.provider"),
        ("- just a list\n", {}, "mapping"),
        ("providers: [\n", {}, "YAML"),
        ("recording_mode: sometimes\n", {}, "recording_mode"),
        ("recording_mode: replay\n", {}, "recording_dir"),
    ],
)
def test_invalid_config_names_the_key(tmp_path: Path, text: str, env: dict[str, str], names: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=names):
        load_settings(path, env)


def test_cli_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("providers:\n  openai: {type: ollama}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "responsa", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        env=base_env(),
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "providers.openai.type" in lines[0]


def test_server_with_config_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    with start_server(
        tmp_path, "cfg", {"UPSTREAM": "http://127.0.0.1:9/v1"}, ("--config", str(path))
    ) as server:
        models = HTTP.get(server.url + "/v1/models").json()["data"]
        assert [m["id"] for m in models] == ["openai/gpt-4o"]
        assert models[0]["custom_metadata"]["provider_resource_id"] == "gpt-4o"
        resp = HTTP.post(server.url + "/v1/responses", json={"model": "openai/gpt-4o-mini", "input": "x"})
        assert resp.status_code == 404  # only configured models are served
