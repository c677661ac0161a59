"""Resolves model ids to a provider and the upstream model name.

openai/gpt-4o   a configured model id, or `<provider>/<model>` on a provider that serves any
gpt-4o          an alias from the config, else the default provider's model `gpt-4o`
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from responsa.config import ModelConfig, ProviderConfig, Settings
from responsa.errors import NotFound
from responsa.providers.base import Provider
from responsa.providers.openai_compat import OpenAICompatProvider


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    id: str
    provider: Provider
    provider_model_id: str
    model_type: str = "llm"
    custom_native: bool = False  # custom tools go upstream as the Chat API's own `custom` type
    context_window: int | None = None  # configured (`models[].context_window`), else see engine/tokens.py
    configured: bool = False  # a model of the config (its type is known), not a name passed on
    embedding_dimension: int | None = None


def custom_native(config: ProviderConfig) -> bool:
    """Whether the provider takes Chat Completions `custom` tools: OpenAI itself does."""
    if config.custom_tools != "auto":
        return config.custom_tools == "native"
    return config.type == "openai" and urllib.parse.urlsplit(config.base_url).hostname == "api.openai.com"


def _build(name: str, config: ProviderConfig, settings: Settings) -> Provider:
    if config.type == "llama_cpp":
        from responsa.providers.llama_cpp import LlamaCppProvider

        return LlamaCppProvider(
            name,
            config,
            settings.local_threads,
            max_output_tokens=settings.local_max_output_tokens,
            queue_wait_s=settings.local_queue_wait_s,
        )
    if config.type == "onnx_embedding":
        from responsa.providers.local_embedder import OnnxEmbedder

        return OnnxEmbedder(name, config, settings.local_threads)
    return OpenAICompatProvider(
        name,
        config,
        settings.upstream_read_timeout_s,
        settings.upstream_connect_timeout_s,
        settings.upstream_total_timeout_s,
    )


class ModelRegistry:
    def __init__(self, settings: Settings, wrap: Callable[[Provider], Provider] = lambda p: p) -> None:
        self.providers: dict[str, Provider] = {
            name: wrap(_build(name, cfg, settings)) for name, cfg in settings.providers.items()
        }
        self._open_providers = {name for name, cfg in settings.providers.items() if cfg.serve_any_model}
        self._native = {name: custom_native(cfg) for name, cfg in settings.providers.items()}
        self._models: dict[str, ModelConfig] = {m.id: m for m in settings.models}
        self._default = settings.default_provider
        self._aliases = dict(settings.aliases)
        self._cache: dict[str, ResolvedModel] = {}

    @property
    def models(self) -> list[ModelConfig]:
        return list(self._models.values())

    def open_providers(self) -> list[Provider]:
        """Providers that serve any `<provider>/<model>` (the no-config `openai` provider)."""
        return [self.providers[name] for name in sorted(self._open_providers)]

    def configured(self, model_id: str) -> bool:
        """Whether the id (or the alias's target) is a model of the config, not a name passed on."""
        return self._aliases.get(model_id, model_id) in self._models

    def resolve(self, model_id: str) -> ResolvedModel:
        found = self._cache.get(model_id)
        if found is not None:
            return found
        target = self._aliases.get(model_id, model_id)
        config = self._models.get(target)
        if config is not None:
            found = ResolvedModel(
                model_id,
                self.providers[config.provider],
                config.provider_model_id,
                config.model_type,
                self._native[config.provider],
                config.context_window,
                configured=True,
                embedding_dimension=config.embedding_dimension,
            )
        else:
            provider_name, sep, upstream = target.partition("/")
            if not (sep and upstream and provider_name in self._open_providers):
                if self._default is None:
                    raise NotFound(
                        f"Model '{model_id}' not found. Use 'client.models.list()' to list available models.",
                        param="model",
                        code="model_not_found",
                    )
                provider_name, upstream = self._default, target  # a bare name, as clients hard-code it
            found = ResolvedModel(
                model_id, self.providers[provider_name], upstream, "llm", self._native[provider_name]
            )
        if len(self._cache) >= 4096:  # clients choose the names: keep the cache bounded
            self._cache.clear()
        self._cache[model_id] = found
        return found

    async def start(self) -> None:
        for provider in self.providers.values():
            await provider.start()

    def interrupt(self) -> None:
        """Shutdown began: providers stop their running work (see `Provider.interrupt`)."""
        for provider in self.providers.values():
            provider.interrupt()

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
