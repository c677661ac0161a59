"""`responsa import-ogx CONFIG.yaml`: a reference-server (OGX / llama-stack) run config turned
into a Responsa config, with a note for everything that could not be mapped.

    config, notes = convert(yaml.safe_load(open("run.yaml")))

What maps:
- inference providers that speak Chat Completions (OpenAI, vLLM, Ollama, Fireworks, Together,
  Groq, SambaNova, Cerebras, NVIDIA, and Anthropic and Gemini through their OpenAI-compatible
  endpoints) become `type: openai` providers serving any model under their id; OGX's
  `inline::sentence-transformers` becomes the embedded MiniLM embedder;
- `registered_resources.models` (or the older top-level `models`) become `models`;
- `connectors` stay connectors; the Tavily tool runtime's key becomes `tavily_api_key`;
- PostgreSQL storage becomes `db_url` (SQLite storage is not carried over: Responsa keeps its
  own database, and OGX's stored data is not migrated);
- `server.auth` with an OAuth2 token provider becomes `auth.oidc`.

The translation stays OpenAI-faithful (the default); the notes say how to replay suites
recorded against OGX (`translation: ogx`). Environment references keep working:
`${env.VAR:=default}` becomes `${VAR:-default}`. A provider that OGX enables only when a
variable is set (`${env.VAR:+id}`) is kept, and its note says so.
"""

from __future__ import annotations

import re
from typing import Any

# OGX inference provider types served as OpenAI-compatible upstreams, with the base URL used
# when the config gives none.
OPENAI_COMPATIBLE: dict[str, str | None] = {
    "remote::openai": "https://api.openai.com/v1",
    "remote::vllm": None,
    "remote::ollama": "http://localhost:11434/v1",
    "remote::fireworks": "https://api.fireworks.ai/inference/v1",
    "remote::together": "https://api.together.xyz/v1",
    "remote::groq": "https://api.groq.com/openai/v1",
    "remote::sambanova": "https://api.sambanova.ai/v1",
    "remote::cerebras": "https://api.cerebras.ai/v1",
    "remote::nvidia": "https://integrate.api.nvidia.com/v1",
    "remote::anthropic": "https://api.anthropic.com/v1",
    "remote::gemini": "https://generativelanguage.googleapis.com/v1beta/openai",
    "remote::llama-openai-compat": "https://api.llama.com/compat/v1",
}
EMBEDDED_EMBEDDER = "inline::sentence-transformers"
_DEFAULTED = re.compile(r"\$\{env\.([A-Za-z_][A-Za-z0-9_]*):[=-]([^}]*)\}")
_PLAIN = re.compile(r"\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}")
_IF_SET = re.compile(r"^\$\{env\.([A-Za-z_][A-Za-z0-9_]*):\+([^}]*)\}$")


def _if_set(raw: Any) -> tuple[str | None, Any]:
    """`${env.VAR:+value}` (OGX's "value when VAR is set") as (VAR, value); anything else as
    (None, itself)."""
    match = _IF_SET.match(raw) if isinstance(raw, str) else None
    return (match.group(1), match.group(2)) if match else (None, raw)


def _env(value: Any) -> Any:
    """OGX's environment references in Responsa's form, everywhere in a value."""
    if isinstance(value, str):
        value = _DEFAULTED.sub(lambda m: f"${{{m.group(1)}:-{m.group(2)}}}", value)
        return _PLAIN.sub(lambda m: f"${{{m.group(1)}}}", value)
    if isinstance(value, dict):
        return {k: _env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_env(v) for v in value]
    return value


class _Converter:
    def __init__(self, ogx: dict[str, Any]) -> None:
        self.ogx = ogx
        self.out: dict[str, Any] = {}
        self.notes: list[str] = []
        self.providers: set[str] = set()
        self.embedder: str | None = None  # the OGX provider id the embedded embedder replaces

    def note(self, text: str) -> None:
        self.notes.append(text)

    def provider_id(self, raw: Any, where: str) -> str | None:
        if not isinstance(raw, str) or not raw:
            self.note(f"{where}: no provider_id; skipped")
            return None
        var, value = _if_set(raw)
        if var is not None:
            self.note(
                f"provider {value}: OGX enables it only when {var} is set; here it is always configured"
            )
            return str(value)
        return raw

    def inference(self, entries: Any) -> None:
        providers: dict[str, Any] = {}
        for i, entry in enumerate(entries or ()):
            where = f"providers.inference[{i}]"
            if not isinstance(entry, dict):
                self.note(f"{where}: not a mapping; skipped")
                continue
            kind = entry.get("provider_type")
            pid = self.provider_id(entry.get("provider_id"), where)
            if pid is None:
                continue
            config = entry.get("config") or {}
            if kind == EMBEDDED_EMBEDDER:
                self.embedder = pid
                self.note(
                    f"provider {pid} ({kind}): served by the embedded all-MiniLM-L6-v2 "
                    "(local/all-minilm-l6-v2, offline); other sentence-transformers models are not available"
                )
                continue
            if kind not in OPENAI_COMPATIBLE:
                self.note(f"provider {pid} ({kind}): no Chat Completions mapping; not carried over")
                continue
            base_url = config.get("base_url") or config.get("url") or OPENAI_COMPATIBLE[kind]
            if base_url is None:
                self.note(f"provider {pid} ({kind}): no base_url or url; not carried over")
                continue
            provider: dict[str, Any] = {"type": "openai", "base_url": _env(base_url), "serve_any_model": True}
            key = config.get("api_key") or config.get("api_token")
            if key:
                provider["api_key"] = _env(key)
            dropped = sorted(set(config) - {"base_url", "url", "api_key", "api_token"})
            if dropped:
                self.note(f"provider {pid}: settings not carried over: {', '.join(dropped)}")
            if kind in ("remote::anthropic", "remote::gemini"):
                self.note(f"provider {pid}: through its OpenAI-compatible endpoint ({base_url})")
            providers[pid] = provider
            self.providers.add(pid)
        if providers:
            self.out["providers"] = providers
            first = next(iter(providers))
            self.out["default_provider"] = "openai" if "openai" in providers else first

    def models(self, entries: Any) -> None:
        models = []
        for i, entry in enumerate(entries or ()):
            if not isinstance(entry, dict) or not entry.get("model_id"):
                self.note(f"models[{i}]: no model_id; skipped")
                continue
            model_id = str(_env(entry["model_id"]))
            _, pid = _if_set(entry.get("provider_id"))
            if pid == self.embedder:
                self.note(f"model {model_id}: served as local/all-minilm-l6-v2 (the embedded embedder)")
                continue
            if pid not in self.providers:
                self.note(f"model {model_id}: its provider {pid!r} is not carried over; skipped")
                continue
            upstream = entry.get("provider_model_id")
            if not upstream or upstream == "auto":
                upstream = model_id.split("/", 1)[1] if model_id.startswith(f"{pid}/") else model_id
            model: dict[str, Any] = {
                "id": model_id,
                "provider": pid,
                "provider_model_id": str(_env(upstream)),
                "model_type": str(entry.get("model_type") or "llm"),
            }
            dimension = (entry.get("metadata") or {}).get("embedding_dimension")
            if isinstance(dimension, int):
                model["embedding_dimension"] = dimension
            models.append(model)
        if models:
            self.out["models"] = models

    def tools(self, entries: Any) -> None:
        for entry in entries or ():
            if not isinstance(entry, dict):
                continue
            kind, config = entry.get("provider_type"), entry.get("config") or {}
            if kind == "remote::tavily-search":
                if config.get("api_key"):
                    self.out["tavily_api_key"] = _env(config["api_key"])
            elif kind in ("remote::model-context-protocol", "inline::file-search", "inline::rag-runtime"):
                pass  # built in: mcp tools, file_search over vector stores
            else:
                self.note(
                    f"tool runtime {entry.get('provider_id')} ({kind}): not available; not carried over"
                )

    def storage(self, storage: Any) -> None:
        backends = (storage or {}).get("backends") or {}
        postgres = [b for b in backends.values() if isinstance(b, dict) and "postgres" in str(b.get("type"))]
        if postgres:
            b = postgres[0]
            user, password = b.get("user") or "postgres", b.get("password")
            auth = f"{user}:{password}" if password else str(user)
            url = (
                f"postgresql://{auth}@{b.get('host', 'localhost')}:{b.get('port', 5432)}/{b.get('db', 'ogx')}"
            )
            self.out["db_url"] = _env(url)
            self.note(
                "storage: Responsa makes its own tables in that PostgreSQL database (run it on a new "
                "database); OGX's stored responses, conversations and files are not migrated"
            )
        elif backends:
            self.note(
                "storage: SQLite backends are not carried over: Responsa keeps its own database "
                "(db_url, default in the user data folder); OGX's stored data is not migrated"
            )

    def auth(self, server: Any) -> None:
        server = server or {}
        if server.get("port"):
            self.note(f"server.port {server['port']}: pass it as `responsa serve --port {server['port']}`")
        provider = ((server.get("auth") or {}).get("provider_config")) or {}
        if not provider:
            return
        var, kind = _if_set(str(provider.get("type") or ""))
        if "oauth2_token" in kind and provider.get("issuer"):
            oidc: dict[str, Any] = {
                "issuer": _env(provider["issuer"]),
                "audience": _env(provider.get("audience")),
            }
            jwks = (provider.get("jwks") or {}).get("uri")
            if jwks:
                oidc["jwks_url"] = _env(jwks)
            self.out["auth"] = {"oidc": oidc}
            if var is not None:
                self.note(f"server.auth: OGX enables it only when {var} is set; here it is always on")
        else:
            self.note(
                f"server.auth ({kind or 'unknown'}): not carried over; use API keys (responsa keys create)"
            )

    def run(self) -> tuple[dict[str, Any], list[str]]:
        ogx = self.ogx
        providers = ogx.get("providers") or {}
        self.inference(providers.get("inference"))
        resources = ogx.get("registered_resources") or {}
        self.models(resources.get("models") or ogx.get("models"))
        self.tools(providers.get("tool_runtime"))
        connectors = ogx.get("connectors") or []
        if connectors:
            self.out["connectors"] = {
                c["connector_id"]: {k: _env(v) for k, v in c.items() if k in ("url", "server_label")}
                for c in connectors
                if isinstance(c, dict) and c.get("connector_id") and c.get("url")
            }
        self.storage(ogx.get("storage"))
        self.auth(ogx.get("server"))
        if providers.get("safety") or ogx.get("safety") or resources.get("shields"):
            self.note("safety: no safety provider; requests with `guardrails` get a 503")
        for api in sorted(set(providers) - {"inference", "tool_runtime", "safety"}):
            self.note(f"providers.{api}: Responsa's own ({api} is built in or not offered); not carried over")
        self.note(
            "translation: faithful (OpenAI's behaviour, the default); to replay suites recorded "
            "against OGX, set `translation: ogx` (its exact upstream requests)"
        )
        return self.out, self.notes


def convert(ogx: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The Responsa config for an OGX run config, and what could not be mapped."""
    if not isinstance(ogx, dict):
        raise ValueError("an OGX run config is a mapping at the top level")
    return _Converter(ogx).run()
