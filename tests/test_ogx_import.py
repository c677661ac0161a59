"""`responsa import-ogx`: a reference-server run config (tests/ogx/run.yaml, in OGX's format)
becomes a Responsa config that loads, and every setting it could not map is named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from responsa.config import load_settings

SAMPLE = Path(__file__).parent / "ogx" / "run.yaml"


def run_import(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "responsa", "import-ogx", str(SAMPLE), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_sample_config_converts_and_loads(tmp_path: Path) -> None:
    out = tmp_path / "responsa.yaml"
    done = run_import("-o", str(out))
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(out.read_text())
    assert config["providers"]["openai"] == {
        "type": "openai",
        "base_url": "${OPENAI_BASE_URL:-https://api.openai.com/v1}",
        "serve_any_model": True,
        "api_key": "${OPENAI_API_KEY:-}",
    }
    assert config["providers"]["vllm"]["base_url"] == "${VLLM_URL:-http://localhost:8000/v1}"
    assert [m["id"] for m in config["models"]] == ["openai/gpt-4o", "vllm/qwen", "Qwen/Qwen3-Reranker-0.6B"]
    assert config["models"][1]["provider_model_id"] == "qwen"  # "auto": the id without its provider
    assert config["connectors"] == {"test-mcp-connector": {"url": "http://localhost:5199/sse"}}
    assert config["auth"]["oidc"]["jwks_url"] == "https://issuer.example/jwks"
    assert config["tavily_api_key"] == "${TAVILY_SEARCH_API_KEY:-}"
    # What could not be mapped is named, one line each.
    notes = done.stderr
    for unmapped in ("bedrock", "brave-search", "max_tokens", "guardrails", "nomic-embed", "--port 8321"):
        assert unmapped in notes, unmapped
    assert "translation: ogx" in notes  # how to replay suites recorded against OGX
    # The result is a valid Responsa config: the environment fills it in, defaults where unset.
    settings = load_settings(out, {"OPENAI_API_KEY": "sk-test", "POSTGRES_HOST": "db.internal"})
    assert settings.providers["openai"].api_key == "sk-test"
    assert settings.providers["openai"].base_url == "https://api.openai.com/v1"
    assert settings.db_url == "postgresql://ogx:ogx@db.internal:5432/ogx"
    assert settings.connectors["test-mcp-connector"].url == "http://localhost:5199/sse"
    assert {"llm", "rerank"} <= {m.model_type for m in settings.models}  # (and the embedded embedder)
    assert settings.oidc is not None and settings.oidc.audience == "ogx"


def test_printed_by_default_and_bad_files_fail_clearly(tmp_path: Path) -> None:
    printed = run_import()
    assert printed.returncode == 0 and printed.stdout.startswith("# Made by `responsa import-ogx`")
    assert yaml.safe_load(printed.stdout)["default_provider"] == "openai"
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    done = subprocess.run(
        [sys.executable, "-m", "responsa", "import-ogx", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "not an OGX run config" in done.stderr
