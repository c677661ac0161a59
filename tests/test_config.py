"""Settings and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from responsa.config import ConfigError, load_settings, local_embedder_available, local_model_available
from tests.support import HTTP, base_env, start_server

GOOD = """
providers:
  openai: {type: openai, base_url: "${UPSTREAM}", api_key: dummy}
models:
  - {id: openai/gpt-4o, provider: openai, provider_model_id: gpt-4o, model_type: llm}
"""
# The embedded embedder joins every configuration when it is installed.
EMBEDDER = ["local/all-minilm-l6-v2"] if local_embedder_available() else []


def test_file_and_env(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    (tmp_path / "rec").mkdir()
    path.write_text(GOOD + f"recording_mode: record\nrecording_dir: {tmp_path / 'rec'}\n")
    settings = load_settings(path, {"UPSTREAM": "http://u/v1", "RESPONSA_RECORDING_MODE": "replay"})
    assert settings.providers["openai"].base_url == "http://u/v1"
    assert settings.recording_mode == "replay"  # the environment wins
    assert settings.recording_dirs == (tmp_path / "rec",)
    assert settings.models[0].provider_model_id == "gpt-4o"


def test_env_only_provider_serves_any_model() -> None:
    settings = load_settings(None, {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://x/v1"})
    assert settings.providers["openai"].serve_any_model is True
    assert settings.db_url.startswith("sqlite:///") and settings.db_url.endswith("responsa.db")
    bare = load_settings(None, {})
    if local_model_available():  # the embedded default: no key, no network
        assert bare.providers["local"].type == "llama_cpp"
        assert [m.id for m in bare.models] == ["local/smollm2-135m-instruct", *EMBEDDER]
    else:
        assert "local" not in bare.providers


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
        assert [m["id"] for m in models] == ["openai/gpt-4o", *EMBEDDER]
        assert models[0]["custom_metadata"]["provider_resource_id"] == "gpt-4o"
        resp = HTTP.post(server.url + "/v1/responses", json={"model": "openai/gpt-4o-mini", "input": "x"})
        assert resp.status_code == 404  # only configured models are served


def _responsa(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, command: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(command or [sys.executable, "-m", "responsa"]), *args],
        capture_output=True,
        text=True,
        env={**base_env(), **(env or {})},
        cwd=cwd,
        timeout=120,
    )


MISSING_GGUF = "providers:\n  local: {type: llama_cpp, model_path: /nonexistent/other.gguf}\n"


@pytest.mark.parametrize(
    ("args", "env", "config", "names"),
    [
        ((), {"RESPONSA_DB_URL": "mysql:///mydb"}, None, "db_url: unsupported database 'mysql'"),
        ((), {"RESPONSA_DB_URL": "mysql://host/db"}, None, "db_url: unsupported database 'mysql'"),
        ((), {"RESPONSA_DB_URL": "postgresql+psycopg://h/db"}, None, "db_url: unsupported driver"),
        ((), {"RESPONSA_LOG_LEVEL": "loud"}, None, "log_level"),
        ((), {"RESPONSA_UPSTREAM_READ_TIMEOUT_S": "0"}, None, "upstream_read_timeout_s"),
        ((), {"RESPONSA_MAX_LARGE_BODIES": "0"}, None, "max_large_bodies"),
        (("--port", "70000"), {}, None, "--port: 70000"),
        (("--workers", "0"), {}, None, "--workers: 0"),
        ((), {}, MISSING_GGUF, "providers.local.model_path: no such file: /nonexistent/other.gguf"),
        ((), {}, "providers:\n  x: {type: openai, base_url: 'ftp://h/v1'}\n", "providers.x.base_url"),
        (
            (),
            {"RESPONSA_RECORDING_MODE": "replay", "RESPONSA_RECORDING_DIR": "/nonexistent"},
            None,
            "no such",
        ),
    ],
)
def test_every_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], config: str | None, names: str
) -> None:
    if config is not None:
        (tmp_path / "c.yaml").write_text(config)
        args = (*args, "--config", str(tmp_path / "c.yaml"))
    proc = _responsa("serve", *args, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert names in lines[0] and lines[0].startswith("responsa: ")


def test_version_config_show_and_doctor(tmp_path: Path) -> None:
    version = _responsa("--version")
    assert version.returncode == 0 and version.stdout.startswith("responsa 0.")
    secret = "sk-" + "s" * 30
    env = {
        "OPENAI_API_KEY": secret,
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # nothing listens there
        "RESPONSA_DB_URL": "postgresql://me:hunter2@127.0.0.1:9/db",
        "TAVILY_API_KEY": "tvly-" + "t" * 20,
    }
    shown = _responsa("config", "show", env=env)
    assert shown.returncode == 0
    assert secret not in shown.stdout and "hunter2" not in shown.stdout and "tvly-" not in shown.stdout
    assert "api_key: '****'" in shown.stdout and "me:***@127.0.0.1:9/db" in shown.stdout
    assert "upstream_read_timeout_s: 180.0" in shown.stdout
    doctor = _responsa("doctor", env=env)
    assert doctor.returncode == 1  # neither the database nor the provider answers
    assert "FAIL PostgreSQL" in doctor.stdout and "FAIL provider openai" in doctor.stdout
    assert secret not in doctor.stdout and "hunter2" not in doctor.stdout
    fine = _responsa(
        "doctor",
        env={
            "RESPONSA_DB_URL": f"sqlite:///{tmp_path / 'd.db'}",
            "RESPONSA_NO_LOCAL_MODEL": "1",
            "OPENAI_API_KEY": "k",
            "RESPONSA_RECORDING_MODE": "replay",
            "RESPONSA_RECORDING_DIR": str(tmp_path),
        },
    )
    assert fine.returncode == 0, fine.stdout
    assert "ok   SQLite file" in fine.stdout and "replayed from recordings" in fine.stdout


def test_serve_script_runs_where_it_is_called(tmp_path: Path) -> None:
    """`scripts/serve.sh --config rel.yaml` reads rel.yaml from the caller's folder (here the
    file is found, and its bad setting is what stops the server)."""
    (tmp_path / "rel.yaml").write_text("log_level: loud\n")
    proc = _responsa(
        "--config",
        "rel.yaml",
        cwd=tmp_path,
        command=["bash", str(Path(__file__).parents[1] / "scripts" / "serve.sh")],
    )
    assert proc.returncode == 2, proc.stderr
    assert "invalid setting log_level" in proc.stderr.strip().splitlines()[-1]


def test_a_config_file_keeps_the_embedded_model_only_when_asked(tmp_path: Path) -> None:
    if not local_model_available():
        pytest.skip("the embedded model is not installed (RESPONSA_NO_LOCAL_MODEL=1 setup)")
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    assert "local" not in load_settings(path, {"UPSTREAM": "http://u/v1"}).providers
    path.write_text(GOOD + "embedded_model: true\n")
    both = load_settings(path, {"UPSTREAM": "http://u/v1"})
    assert both.providers["local"].type == "llama_cpp"
    assert [m.id for m in both.models] == ["openai/gpt-4o", "local/smollm2-135m-instruct", *EMBEDDER]
    assert (
        "local"
        not in load_settings(path, {"UPSTREAM": "http://u/v1", "RESPONSA_NO_LOCAL_MODEL": "1"}).providers
    )


def test_the_embedded_embedder_is_on_unless_turned_off(tmp_path: Path) -> None:
    if not local_embedder_available():
        pytest.skip("the embedded embedder is not installed")
    with_key = load_settings(None, {"OPENAI_API_KEY": "k"})
    assert with_key.providers["local-embeddings"].type == "onnx_embedding"
    (model,) = [m for m in with_key.models if m.id == "local/all-minilm-l6-v2"]
    assert model.model_type == "embedding" and model.embedding_dimension == 384
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    assert "local-embeddings" in load_settings(path, {"UPSTREAM": "http://u/v1"}).providers
    path.write_text(GOOD + "embedded_embedder: false\n")
    off = load_settings(path, {"UPSTREAM": "http://u/v1"})
    assert "local-embeddings" not in off.providers and [m.id for m in off.models] == ["openai/gpt-4o"]
    path.write_text(GOOD)
    none = load_settings(path, {"UPSTREAM": "http://u/v1", "RESPONSA_NO_LOCAL_MODEL": "1"})
    assert "local-embeddings" not in none.providers
