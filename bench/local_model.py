"""The embedded local model's speed: load time, time to first token and decode tokens/s.

    .venv/bin/python bench/local_model.py [--threads 2] [--rounds 3]

Runs the provider in-process (no HTTP), greedy, on a short prompt, and prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from responsa.config import ProviderConfig
from responsa.providers.llama_cpp import LlamaCppProvider


async def run(threads: int, rounds: int, max_tokens: int) -> dict[str, object]:
    provider = LlamaCppProvider("local", ProviderConfig(type="llama_cpp"), threads)
    started = time.perf_counter()
    await provider.start()
    load_s = time.perf_counter() - started
    ttfts, rates = [], []
    for _ in range(rounds):
        request = {
            "model": "local/smollm2-135m-instruct",
            "stream": True,
            "temperature": 0.0,
            "max_completion_tokens": max_tokens,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "Which planet do humans live on?"}],
        }
        sent = time.perf_counter()
        first = None
        tokens = 0
        async for chunk in provider.stream_chat(request):
            if chunk["choices"] and chunk["choices"][0]["delta"].get("content") and first is None:
                first = time.perf_counter()
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
        done = time.perf_counter()
        assert first is not None
        ttfts.append((first - sent) * 1000)
        rates.append((tokens - 1) / (done - first) if done > first else 0.0)
    return {
        "threads": threads,
        "load_s": round(load_s, 2),
        "ttft_ms_median": round(statistics.median(ttfts), 1),
        "decode_tok_s_median": round(statistics.median(rates), 1),
        "rounds": rounds,
        "max_tokens": max_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.threads, args.rounds, args.max_tokens))))


if __name__ == "__main__":
    main()
