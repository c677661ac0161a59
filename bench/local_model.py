"""The embedded local model: its speed, and how often short prompts run into the output cap.

    .venv/bin/python bench/local_model.py [--threads 2] [--rounds 3]      # speed
    .venv/bin/python bench/local_model.py --prompts [--cap 800] [--seed N] # 20 short prompts

Runs the provider in-process (no HTTP) and prints JSON lines. Speed: greedy, one short
prompt, load time, time to first token and decode tokens/s. `--prompts`: the 20 short, simple
prompts below with no sampling options (the provider's defaults apply), each to its end or to
the cap (`--cap`, else the provider's default cap): one line per prompt, then how many hit the
cap and the tokens/s over all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from responsa.config import ProviderConfig
from responsa.providers.llama_cpp import LlamaCppProvider

MODEL = "local/smollm2-135m-instruct"
PROMPTS = (
    "Count to 3",
    "Which planet do humans live on?",
    "What is 2+2?",
    "What is the capital of Japan?",
    "Name the three primary colours.",
    "Say hello in French.",
    "What colour is the sky on a clear day?",
    "How many legs does a spider have?",
    "At what temperature does water boil, in Celsius?",
    "Name a fruit that is yellow.",
    "What is the opposite of hot?",
    "Spell the word 'cat'.",
    "Which day comes after Monday?",
    "How many days are in a week?",
    "What is 10 minus 4?",
    "Who wrote Romeo and Juliet?",
    "Which animal says moo?",
    "Give me a synonym for happy.",
    "What is the largest ocean on Earth?",
    "Translate 'thank you' into Spanish.",
)


async def _generate(provider: LlamaCppProvider, request: dict[str, Any]) -> tuple[float, float, int, str]:
    """(time to first token, time to the end, completion tokens, finish reason)."""
    sent = time.perf_counter()
    first = None
    tokens = 0
    finish = ""
    async for chunk in provider.stream_chat(
        {"stream": True, "stream_options": {"include_usage": True}, **request}
    ):
        for choice in chunk["choices"]:
            if choice["delta"].get("content") and first is None:
                first = time.perf_counter()
            finish = choice.get("finish_reason") or finish
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
    done = time.perf_counter()
    return (first or done) - sent, done - sent, tokens, finish


async def speed(provider: LlamaCppProvider, rounds: int, max_tokens: int) -> dict[str, object]:
    ttfts, rates = [], []
    for _ in range(rounds):
        request = {
            "model": MODEL,
            "temperature": 0.0,
            "max_completion_tokens": max_tokens,
            "messages": [{"role": "user", "content": "Which planet do humans live on?"}],
        }
        ttft, total, tokens, _ = await _generate(provider, request)
        ttfts.append(ttft * 1000)
        rates.append((tokens - 1) / (total - ttft) if total > ttft else 0.0)
    return {
        "ttft_ms_median": round(statistics.median(ttfts), 1),
        "decode_tok_s_median": round(statistics.median(rates), 1),
        "rounds": rounds,
        "max_tokens": max_tokens,
    }


async def survey(provider: LlamaCppProvider, cap: int | None, seed: int | None) -> dict[str, object]:
    hits, tokens, seconds = 0, 0, 0.0
    for prompt in PROMPTS:
        request: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": prompt}]}
        if cap is not None:
            request["max_completion_tokens"] = cap
        if seed is not None:
            request["seed"] = seed
        _, total, n, finish = await _generate(provider, request)
        hits += finish == "length"
        tokens += n
        seconds += total
        print(json.dumps({"prompt": prompt, "tokens": n, "finish": finish, "s": round(total, 2)}), flush=True)
    return {
        "prompts": len(PROMPTS),
        "cap": cap if cap is not None else "provider default",
        "hit_cap": hits,
        "completion_tokens": tokens,
        "seconds": round(seconds, 1),
        "tok_s": round(tokens / seconds, 1) if seconds else 0.0,
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    provider = LlamaCppProvider("local", ProviderConfig(type="llama_cpp"), args.threads)
    started = time.perf_counter()
    await provider.start()
    head: dict[str, object] = {"threads": args.threads, "load_s": round(time.perf_counter() - started, 2)}
    if args.prompts:
        return head | await survey(provider, args.cap, args.seed)
    return head | await speed(provider, args.rounds, args.max_tokens)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--prompts", action="store_true", help="the 20 short prompts, to the end or the cap")
    parser.add_argument("--cap", type=int, help="max_completion_tokens per prompt (default: the provider's)")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
