"""Any OpenAI-compatible Chat Completions server (OpenAI, vLLM, Ollama, ...) through the
official SDK's `AsyncOpenAI`, one pooled client per provider."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import openai
import orjson
from openai import AsyncOpenAI, DefaultAioHttpClient
from openai.types import Model
from openai.types.chat import ChatCompletion

from responsa.config import ProviderConfig
from responsa.errors import UpstreamError
from responsa.providers.base import Provider
from responsa.types import ChatRequest, ChunkStream


def _error_fields(body: object) -> dict[str, Any]:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return inner
    return {}


def _status_error(provider: str, model: str | None, status: int, raw: bytes) -> UpstreamError:
    try:
        fields = _error_fields(orjson.loads(raw))
    except orjson.JSONDecodeError:
        fields = {}
    message = fields.get("message") or raw.decode(errors="replace")[:500] or f"HTTP {status}"
    return UpstreamError(
        str(message),
        status_code=status,
        error_type=fields.get("type"),
        param=fields.get("param"),
        code=fields.get("code"),
        provider=provider,
        model=model,
    )


@contextmanager
def upstream_errors(provider: str, model: str | None) -> Iterator[None]:
    """Turn SDK exceptions into `UpstreamError` carrying the provider, model and the
    upstream's own status, type, code and message."""
    try:
        yield
    except openai.APIStatusError as exc:
        fields = _error_fields(exc.body)
        raise UpstreamError(
            str(fields.get("message") or exc.message),
            status_code=exc.status_code,
            error_type=fields.get("type"),
            param=fields.get("param"),
            code=fields.get("code"),
            provider=provider,
            model=model,
        ) from exc
    except openai.APIError as exc:  # connection errors, timeouts, broken streams
        raise UpstreamError(
            f"Upstream provider '{provider}' failed: {exc.message}", provider=provider, model=model
        ) from exc
    except httpx2.HTTPError as exc:  # the raw stream broke after the response started
        raise UpstreamError(
            f"Upstream provider '{provider}' broke off the stream: {exc}", provider=provider, model=model
        ) from exc
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(
            f"Upstream provider '{provider}' sent a chunk that is not JSON: {exc}",
            provider=provider,
            model=model,
        ) from exc


class OpenAICompatProvider(Provider):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        # The SDK's aiohttp transport (openai[aiohttp]): its C HTTP parser costs a fraction of the
        # pure-Python default's, and the upstream call is most of a request's CPU.
        self.http = DefaultAioHttpClient(timeout=config.timeout_s)
        self.client = AsyncOpenAI(
            api_key=config.api_key or "none",
            base_url=config.base_url,
            timeout=config.timeout_s,
            max_retries=0,  # the caller decides; replays must see exactly one call
            http_client=self.http,
        )
        # The streaming hot path sends on the SDK's own pooled client with the SDK's headers, but
        # skips its per-call request building (options, URL parsing, parameter transforms):
        # our bodies are already plain JSON, and that building was the largest cost left.
        self._url = str(self.client.base_url).rstrip("/") + "/chat/completions"
        defaults = {k: v for k, v in self.client.default_headers.items() if isinstance(v, str)}
        self._headers = {
            **defaults,
            **self.client.auth_headers,
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        }

    async def stream_chat(self, request: ChatRequest) -> ChunkStream:
        body = {k: v for k, v in request.items() if k != "extra_body"}
        body.update(request.get("extra_body") or {})
        model = request.get("model")
        with upstream_errors(self.name, model):
            async with self.http.stream(
                "POST", self._url, content=orjson.dumps(body), headers=self._headers
            ) as response:
                if response.status_code >= 400:
                    raise _status_error(self.name, model, response.status_code, await response.aread())
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        continue  # read to the end, so the connection goes back to the pool
                    chunk = orjson.loads(data)
                    if "error" in chunk and "choices" not in chunk:
                        fields = _error_fields(chunk)
                        raise UpstreamError(
                            str(fields.get("message") or data),
                            code=fields.get("code"),
                            provider=self.name,
                            model=model,
                        )
                    yield chunk

    async def complete_chat(self, request: ChatRequest) -> ChatCompletion:
        with upstream_errors(self.name, request.get("model")):
            result: ChatCompletion = await self.client.chat.completions.create(**request)
            return result

    async def list_models(self) -> list[Model]:
        with upstream_errors(self.name, None):
            return [model async for model in self.client.models.list()]

    async def aclose(self) -> None:
        await self.client.close()
