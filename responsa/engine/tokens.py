"""Input tokens and context windows: what `POST /v1/responses/input_tokens`, `truncation: "auto"`
and auto-compaction measure.

    count = await count_input_tokens(model, chat)    # the chat request's prompt tokens
    window = context_window(model)                   # None when nobody knows it

A count comes from the first that knows, in this order:

1. the provider itself: the embedded model's own tokenizer over its chat template (exact), an
   upstream's count endpoint (vLLM's `/tokenize`, exact);
2. OpenAI's tokenizers for OpenAI model names (`bpe-openai` ships `o200k_base` and `cl100k_base`
   in the package: nothing is downloaded), over the text, with OpenAI's published framing of
   chat messages (3 tokens per message, 3 to prime the reply) and the tool definitions as JSON;
3. an estimate for any other model: 4 characters of JSON a token (`estimated` in the log).
"""

from __future__ import annotations

import functools
import logging
import warnings
from typing import Any

import orjson

from responsa.providers.registry import ResolvedModel
from responsa.types import ChatMessages, ChatRequest

log = logging.getLogger("responsa.engine")

PER_MESSAGE = 3  # OpenAI's framing of a chat message, and of the reply it primes
CHARS_PER_TOKEN = 4

# Context windows of OpenAI model families (prefix → tokens), longest prefix first.
OPENAI_WINDOWS = (
    ("gpt-4.1", 1_047_576),
    ("gpt-5", 400_000),
    ("gpt-4o", 128_000),
    ("chatgpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4-32k", 32_768),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo", 16_385),
    ("o1-mini", 128_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
)
O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "o1", "o3", "o4", "codex")
CL100K_PREFIXES = ("gpt-4", "gpt-3.5", "gpt-35", "text-embedding-3", "text-embedding-ada")


def context_window(model: ResolvedModel) -> int | None:
    """The model's context window: configured, the provider's own (the embedded model), or
    OpenAI's for OpenAI model names; None when unknown."""
    if model.context_window is not None:
        return model.context_window
    own = model.provider.context_window
    if own is not None:
        return own
    name = model.provider_model_id.rpartition("/")[2]
    for prefix, window in OPENAI_WINDOWS:
        if name.startswith(prefix):
            return window
    return None


@functools.cache
def _encoding(name: str) -> Any:
    with warnings.catch_warnings():  # its import uses a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai  # type: ignore[import-untyped]  # token tables, loaded on first use

    return bpe_openai.get_encoding(name)


def _encoding_name(model_name: str) -> str | None:
    name = model_name.rpartition("/")[2]
    if name.startswith(O200K_PREFIXES):
        return "o200k_base"
    if name.startswith(CL100K_PREFIXES):
        return "cl100k_base"
    return None


def _texts(messages: ChatMessages) -> list[str]:
    """The text of each message: content (string or text parts), tool calls' names and
    arguments, names; images and files are not counted by text."""
    texts: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(str(p.get("text") or p.get("refusal") or "") for p in content if isinstance(p, dict))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or call.get("custom") or {}
            texts.append(str(function.get("name") or ""))
            texts.append(str(function.get("arguments") or function.get("input") or ""))
        if message.get("name"):
            texts.append(str(message["name"]))
    return texts


def tokenizer_count(chat: ChatRequest, encoding_name: str) -> int:
    encoding = _encoding(encoding_name)
    messages: ChatMessages = chat.get("messages") or []
    total = PER_MESSAGE + PER_MESSAGE * len(messages)
    total += sum(len(encoding.encode(text)) for text in _texts(messages) if text)
    if chat.get("tools"):
        total += len(encoding.encode(orjson.dumps(chat["tools"]).decode()))
    return total


def estimate(chat: ChatRequest) -> int:
    messages: ChatMessages = chat.get("messages") or []
    size = sum(len(text) for text in _texts(messages))
    if chat.get("tools"):
        size += len(orjson.dumps(chat["tools"]))
    return PER_MESSAGE + PER_MESSAGE * len(messages) + -(-size // CHARS_PER_TOKEN)


async def count_input_tokens(model: ResolvedModel, chat: ChatRequest) -> int:
    """The prompt tokens of `chat` for `model` (see the module docstring for how)."""
    exact = await model.provider.count_tokens(chat)
    if exact is not None:
        return exact
    encoding_name = _encoding_name(model.provider_model_id)
    if encoding_name is not None:
        return tokenizer_count(chat, encoding_name)
    log.debug("input tokens of model %s estimated (no tokenizer for it)", model.id)
    return estimate(chat)
