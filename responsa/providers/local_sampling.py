"""Sampling for the embedded model: the model's recommendation, else defaults; the request wins.

With no sampling options, llama.cpp's own defaults apply (temperature 0.2, no repeat penalty),
and a 135M model loops on them until its cap (bench/local_model.py --prompts counts it). So:

1. the GGUF's recommended sampling (`general.sampling.*`, which llama.cpp's converter takes
   from the model's generation_config.json), where it has any;
2. else `FALLBACK_SAMPLING`;
3. over both, what the request sets: Chat Completions' own fields, and in `extra_body` the
   options vLLM takes beyond them (`top_k`, `min_p`, `repetition_penalty`, `ignore_eos`),
   llama.cpp's `repeat_penalty`, and `seed` (the Responses API has none, so it rides there).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from responsa.types import ChatRequest

# Enough randomness and penalty that a small model does not loop, little enough that its short
# answers stay on topic.
FALLBACK_SAMPLING: dict[str, float] = {"temperature": 0.7, "top_p": 0.9, "repeat_penalty": 1.1}
GGUF_SAMPLING = {
    "general.sampling.temp": "temperature",
    "general.sampling.top_p": "top_p",
    "general.sampling.top_k": "top_k",
    "general.sampling.min_p": "min_p",
    "general.sampling.penalty_repeat": "repeat_penalty",
}
_REQUEST_FIELDS = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "seed", "stop")
_EXTRA_FIELDS = {
    "top_k": "top_k",
    "min_p": "min_p",
    "repetition_penalty": "repeat_penalty",
    "repeat_penalty": "repeat_penalty",
    "seed": "seed",
}


def sampling_defaults(metadata: Mapping[str, str]) -> tuple[dict[str, float], bool]:
    """The GGUF's recommended sampling over `FALLBACK_SAMPLING`, and whether it had any."""
    found: dict[str, float] = {}
    for key, name in GGUF_SAMPLING.items():
        with contextlib.suppress(KeyError, ValueError):
            value = float(metadata[key])
            found[name] = int(value) if name == "top_k" else value
    return {**FALLBACK_SAMPLING, **found}, bool(found)


def request_sampling(
    defaults: Mapping[str, float], request: ChatRequest, end_tokens: Sequence[int]
) -> dict[str, Any]:
    """`create_chat_completion` keyword arguments: the defaults, overridden by the request."""
    options: dict[str, Any] = dict(defaults)
    for key in _REQUEST_FIELDS:
        if request.get(key) is not None:
            options[key] = request[key]
    extra = request.get("extra_body") or {}
    for key, name in _EXTRA_FIELDS.items():
        if extra.get(key) is not None:
            options[name] = extra[key]
    if extra.get("ignore_eos"):  # generate to the cap (benchmarks, tests of long answers)
        options["logit_bias"] = dict.fromkeys(end_tokens, float("-inf"))
    return options
