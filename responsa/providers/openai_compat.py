"""Any OpenAI-compatible Chat Completions server (OpenAI, vLLM, Ollama, ...).

Each provider holds two pooled clients: the official SDK's `AsyncOpenAI` for the calls off the
hot path (non-streaming completions, the model list), and an aiohttp session for the streamed
completion every response makes. That one call goes out with the SDK's own default and auth
headers, but without the SDK's per-call request building and its httpx layers: our bodies are
plain JSON already, and those layers cost more CPU than the rest of a request's upstream work.
Lines are decoded as they arrive, one network read at a time, so nothing waits for the whole
stream.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import httpx2
import openai
import orjson
from openai import AsyncOpenAI, DefaultAioHttpClient
from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion

from responsa.config import ProviderConfig
from responsa.errors import UpstreamError
from responsa.providers.base import Provider
from responsa.types import ChatChunk, ChatRequest, ChunkStream, EmbeddingRequest

log = logging.getLogger("responsa.providers")

LOGGED_BODY_BYTES = 500  # of an upstream's error body that is not an OpenAI-shaped error


def _error_fields(body: object) -> dict[str, Any]:
    """The fields of an OpenAI-shaped JSON error (`{"error": {"message", ...}}`, or the same
    fields at the top, as vLLM sends them; `{"error": "text"}` as Ollama does); else none."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return inner
        if isinstance(inner, str):
            return {"message": inner}
    return {}


def _status_message(provider: str, status: int, fields: dict[str, Any], raw: bytes) -> str:
    """What a client reads of an upstream's HTTP error: a 4xx's own message as it is (the
    client's mistake, in the upstream's words), else the status with the upstream's message.
    A body that is no JSON error (an HTML page, a proxy's text) is never shown: it is logged."""
    message = fields.get("message")
    if isinstance(message, str) and message:
        if 400 <= status < 500:
            return message
        return f"Upstream provider '{provider}' answered HTTP {status}: {message}"
    if not raw.strip():
        return f"Upstream provider '{provider}' answered HTTP {status} with an empty body."
    log.warning(
        "upstream provider %s answered HTTP %s with a body that is not an OpenAI error: %r",
        provider,
        status,
        raw[:LOGGED_BODY_BYTES],
    )
    return (
        f"Upstream provider '{provider}' answered HTTP {status} "
        "(its body, not an OpenAI error, is in the server log)."
    )


def _status_error(
    provider: str, model: str | None, status: int, raw: bytes, retry_after: str | None = None
) -> UpstreamError:
    try:
        fields = _error_fields(orjson.loads(raw))
    except orjson.JSONDecodeError:
        fields = {}
    return UpstreamError(
        _status_message(provider, status, fields, raw),
        status_code=status,
        error_type=fields.get("type"),
        param=fields.get("param"),
        code=fields.get("code"),
        provider=provider,
        model=model,
        retry_after=retry_after,
    )


def _shape_error(provider: str, model: str | None, problem: str) -> UpstreamError:
    return UpstreamError(
        f"Upstream provider '{provider}' sent a malformed answer: {problem}.", provider=provider, model=model
    )


def _checked_choices(chunk: dict[str, Any], provider: str, model: str | None) -> list[dict[str, Any]]:
    """The chunk's choices, each an object with an object `delta` (an upstream fault otherwise)."""
    choices = chunk.get("choices") or []
    if type(choices) is not list:
        raise _shape_error(provider, model, "'choices' is not a list of objects")
    for choice in choices:  # once per chunk on the hot path: plain type checks, no generators
        if type(choice) is not dict:
            raise _shape_error(provider, model, "'choices' is not a list of objects")
        delta = choice.get("delta")
        if delta is not None and type(delta) is not dict:
            raise _shape_error(provider, model, "a choice's 'delta' is not an object")
    return choices


def _checked_completion(raw: bytes, provider: str, model: str | None) -> dict[str, Any]:
    """A whole JSON chat completion: an object with a list of choices, each with an object
    `message` (or none), one at least with a finish_reason (an upstream fault otherwise)."""
    try:
        completion = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _shape_error(
            provider, model, "the body is not JSON" if raw.strip() else "the body is empty"
        ) from None
    if not isinstance(completion, dict) or "choices" not in completion:
        message = _error_fields(completion).get("message")
        if isinstance(message, str) and message:  # an error sent with a 200: the upstream's words
            raise UpstreamError(
                message, code=_error_fields(completion).get("code"), provider=provider, model=model
            )
        raise _shape_error(provider, model, "the body is not a chat completion")
    choices = _checked_choices(completion, provider, model)
    for choice in choices:
        if not isinstance(choice.get("message") or {}, dict):
            raise _shape_error(provider, model, "a choice's message is not an object")
    if not _finishes(choices):
        raise _shape_error(provider, model, "the completion has no finish_reason")
    return completion


def _finishes(choices: list[dict[str, Any]]) -> bool:
    for choice in choices:  # noqa: SIM110 - once per chunk: a loop costs less than any(generator)
        if choice.get("finish_reason"):
            return True
    return False


def _broken_call(provider: str, exc: BaseException) -> str:
    """A call that broke below HTTP, in plain words. The cause chain decides, not the outer
    type: the SDK's aiohttp transport reports a reset connection as a timeout."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 8:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    log.warning("upstream provider %s: the call broke: %r", provider, chain[-1])
    if any(
        isinstance(e, ConnectionResetError) or getattr(e, "errno", None) == errno.ECONNRESET for e in chain
    ):
        problem = "the connection was reset"
    elif any(isinstance(e, aiohttp.ClientConnectorError) for e in chain):
        problem = "could not connect"
    elif any(isinstance(e, aiohttp.ClientPayloadError) for e in chain):
        problem = "the connection ended before the answer did"
    elif any(isinstance(e, aiohttp.ServerDisconnectedError) for e in chain):
        problem = "the connection closed without an answer"
    elif any(isinstance(e, TimeoutError) for e in chain):
        return (
            f"Upstream provider '{provider}' timed out: no answer within its timeout "
            "(RESPONSA_UPSTREAM_READ_TIMEOUT_S / _CONNECT_TIMEOUT_S / _TOTAL_TIMEOUT_S)."
        )
    else:
        problem = str(chain[-1]) or type(chain[-1]).__name__
    return f"Upstream provider '{provider}' failed: {problem}."


@contextmanager
def upstream_errors(provider: str, model: str | None) -> Iterator[None]:
    """Turn SDK exceptions into `UpstreamError` carrying the provider, model and the
    upstream's own status, type, code and message."""
    try:
        yield
    except openai.APIStatusError as exc:
        fields = _error_fields(exc.body)
        raise UpstreamError(
            _status_message(provider, exc.status_code, fields, exc.response.content),
            status_code=exc.status_code,
            error_type=fields.get("type"),
            param=fields.get("param"),
            code=fields.get("code"),
            provider=provider,
            model=model,
            retry_after=exc.response.headers.get("retry-after"),
        ) from exc
    except (openai.APIConnectionError, aiohttp.ClientError, TimeoutError) as exc:
        raise UpstreamError(_broken_call(provider, exc), provider=provider, model=model) from exc
    except openai.APIError as exc:  # a stream the SDK read and found broken
        raise UpstreamError(
            f"Upstream provider '{provider}' failed: {exc.message}", provider=provider, model=model
        ) from exc
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(
            f"Upstream provider '{provider}' sent a chunk that is not JSON: {exc}",
            provider=provider,
            model=model,
        ) from exc


def _env_proxy(url: str) -> str | None:
    """The proxy the environment sets for `url` (HTTP(S)_PROXY, NO_PROXY), as the SDK's client
    would use it. Looked up once: aiohttp's own lookup (`trust_env`) runs on a thread per call."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


class OpenAICompatProvider(Provider):
    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        read_s: float = 180.0,
        connect_s: float = 10.0,
        total_s: float | None = 900.0,
    ) -> None:
        self.name = name
        self.timeout_s = config.timeout_s or read_s
        self.connect_s = config.connect_timeout_s or connect_s
        self.total_s = total_s
        timeout = httpx2.Timeout(self.timeout_s, connect=self.connect_s)
        self.client = AsyncOpenAI(
            api_key=config.api_key or "none",
            base_url=config.base_url,
            timeout=timeout,
            max_retries=0,  # the caller decides; replays must see exactly one call
            http_client=DefaultAioHttpClient(timeout=timeout),
        )
        self._url = str(self.client.base_url).rstrip("/") + "/chat/completions"
        defaults = {k: v for k, v in self.client.default_headers.items() if isinstance(v, str)}
        self._headers = {
            **defaults,
            **self.client.auth_headers,
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        }
        self._session: aiohttp.ClientSession | None = None
        self._proxy = _env_proxy(self._url)
        self._tokenize: bool | None = None  # whether the upstream has vLLM's /tokenize

    async def start(self) -> None:
        await self._open_session()

    async def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:  # made in the running loop, as aiohttp requires
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1000),
                # One limit on each wait, and one on the whole call, reading included.
                timeout=aiohttp.ClientTimeout(
                    total=self.total_s, sock_connect=self.connect_s, sock_read=self.timeout_s
                ),
            )
        return self._session

    async def stream_chat(self, request: ChatRequest) -> ChunkStream:
        session = await self._open_session()
        body = {k: v for k, v in request.items() if k != "extra_body"}
        body.update(request.get("extra_body") or {})
        model = request.get("model")
        with upstream_errors(self.name, model):
            async with session.post(
                self._url, data=orjson.dumps(body), headers=self._headers, proxy=self._proxy
            ) as response:
                if response.status >= 400:
                    raise _status_error(
                        self.name,
                        model,
                        response.status,
                        await response.read(),
                        response.headers.get("Retry-After"),
                    )
                pending = b""
                finished = False  # only a finish_reason makes an answer whole
                first = True
                # Read to the end, [DONE] included, so the connection goes back to the pool.
                async for data in response.content.iter_any():
                    if first and data.lstrip()[:1] in (b"{", b"["):  # a JSON answer, not a stream
                        for whole in self._from_completion(data + await response.read(), model):
                            yield whole
                        return
                    first = False
                    lines = (pending + data).split(b"\n")
                    pending = lines.pop()
                    for line in lines:
                        if line.startswith(b"data:"):
                            chunk = self._chunk(line[5:].strip(), model)
                            if chunk is not None:
                                finished = finished or _finishes(chunk.get("choices") or [])
                                yield chunk
                if pending.startswith(b"data:"):
                    chunk = self._chunk(pending[5:].strip(), model)
                    if chunk is not None:
                        finished = finished or _finishes(chunk.get("choices") or [])
                        yield chunk
                if not finished:
                    raise UpstreamError(
                        f"Upstream provider '{self.name}' ended its answer before the model finished "
                        "(no finish_reason): the output is incomplete.",
                        provider=self.name,
                        model=model,
                    )

    def _from_completion(self, raw: bytes, model: str | None) -> list[ChatChunk]:
        """A whole JSON completion sent to a streaming request, as the chunks it stands for."""
        completion = _checked_completion(raw, self.name, model)
        choices = []
        for choice in completion["choices"]:
            delta = {k: v for k, v in (choice.get("message") or {}).items() if v is not None}
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                delta["tool_calls"] = [{**c, "index": i} for i, c in enumerate(calls) if isinstance(c, dict)]
            choices.append(
                {
                    "index": choice.get("index", 0),
                    "delta": delta,
                    "finish_reason": choice.get("finish_reason"),
                }
            )
        head: dict[str, Any] = {
            k: completion.get(k) for k in ("id", "created", "model", "service_tier") if k in completion
        }
        chunks: list[ChatChunk] = [{**head, "object": "chat.completion.chunk", "choices": choices}]
        if completion.get("usage"):
            chunks.append(
                {**head, "object": "chat.completion.chunk", "choices": [], "usage": completion["usage"]}
            )
        return chunks

    def _chunk(self, data: bytes, model: str | None) -> ChatChunk | None:
        if data == b"[DONE]":
            return None
        chunk: ChatChunk = orjson.loads(data)
        if not isinstance(chunk, dict):
            raise _shape_error(self.name, model, f"a chunk is not a JSON object: {data[:80]!r}")
        if "error" in chunk and "choices" not in chunk:
            fields = _error_fields(chunk)
            raise UpstreamError(
                str(fields.get("message") or data.decode(errors="replace")),
                code=fields.get("code"),
                provider=self.name,
                model=model,
            )
        _checked_choices(chunk, self.name, model)
        return chunk

    async def complete_chat(self, request: ChatRequest) -> ChatCompletion:
        model = request.get("model")
        with upstream_errors(self.name, model):
            async with asyncio.timeout(self.total_s):
                raw = await self.client.chat.completions.with_raw_response.create(**request)
            _checked_completion(raw.content, self.name, model)  # the SDK would take anything
            result: ChatCompletion = raw.parse()
            return result

    async def embed(self, request: EmbeddingRequest) -> CreateEmbeddingResponse:
        """The upstream's `POST /embeddings`, through the SDK (which asks for base64 and decodes
        it: a quarter of the bytes of JSON floats; an upstream that answers floats is read too)."""
        with upstream_errors(self.name, request.get("model")):
            async with asyncio.timeout(self.total_s):
                return await self.client.embeddings.create(**request)

    async def list_models(self) -> list[Model]:
        with upstream_errors(self.name, None):
            return [model async for model in self.client.models.list()]

    async def count_tokens(self, request: ChatRequest) -> int | None:
        """vLLM's (and SGLang's) `POST /tokenize` with the chat messages, at the server's root;
        None from any upstream without it (asked once: a 404 is remembered)."""
        if self._tokenize is False or urllib.parse.urlsplit(self._url).hostname == "api.openai.com":
            return None
        root = self._url.removesuffix("/chat/completions").removesuffix("/v1")
        body = {"model": request.get("model"), "messages": request.get("messages")}
        session = await self._open_session()
        try:
            async with session.post(
                root + "/tokenize", data=orjson.dumps(body), headers=self._headers, proxy=self._proxy
            ) as response:
                if response.status in (404, 405):  # no such endpoint: not asked again
                    self._tokenize = False
                    return None
                data = await response.json(loads=orjson.loads) if response.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        count = data.get("count") if isinstance(data, dict) else None
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.client.close()
