"""Resolves `<provider>/<model>` ids to a provider and the upstream model name."""

from __future__ import annotations

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


def _build(name: str, config: ProviderConfig, settings: Settings) -> Provider:
    if config.type == "llama_cpp":
        from responsa.providers.llama_cpp import LlamaCppProvider

        return LlamaCppProvider(name, config, settings.local_threads)
    return OpenAICompatProvider(name, config)


class ModelRegistry:
    def __init__(self, settings: Settings, wrap: Callable[[Provider], Provider] = lambda p: p) -> None:
        self.providers: dict[str, Provider] = {
            name: wrap(_build(name, cfg, settings)) for name, cfg in settings.providers.items()
        }
        self._open_providers = {name for name, cfg in settings.providers.items() if cfg.serve_any_model}
        self._models: dict[str, ModelConfig] = {m.id: m for m in settings.models}
        self._cache: dict[str, ResolvedModel] = {}

    @property
    def models(self) -> list[ModelConfig]:
        return list(self._models.values())

    def open_providers(self) -> list[Provider]:
        """Providers that serve any `<provider>/<model>` (the no-config `openai` provider)."""
        return [self.providers[name] for name in sorted(self._open_providers)]

    def resolve(self, model_id: str) -> ResolvedModel:
        found = self._cache.get(model_id)
        if found is not None:
            return found
        config = self._models.get(model_id)
        if config is not None:
            found = ResolvedModel(
                model_id, self.providers[config.provider], config.provider_model_id, config.model_type
            )
        else:
            provider_name, sep, upstream = model_id.partition("/")
            if not sep or not upstream or provider_name not in self._open_providers:
                raise NotFound(
                    f"Model '{model_id}' not found. Use 'client.models.list()' to list available models.",
                    param="model",
                    code="model_not_found",
                )
            found = ResolvedModel(model_id, self.providers[provider_name], upstream)
        self._cache[model_id] = found
        return found

    async def start(self) -> None:
        for provider in self.providers.values():
            await provider.start()

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
