"""The embedded embedder (all-MiniLM-L6-v2 int8 on onnxruntime): embeddings per second.

    .venv/bin/python bench/embeddings.py [--threads 2] [--texts 256] [--rounds 3]

Runs the provider in-process (no HTTP) on texts of about 100 tokens each (distinct, so nothing
is cached), sent as requests of 1, 16 and 64 inputs, and prints one JSON line per batch size:
the best round's embeddings per second and milliseconds per request, plus the load time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from responsa.config import ProviderConfig
from responsa.providers.local_embedder import OnnxEmbedder

WORDS = [
    "the",
    "server",
    "answers",
    "each",
    "request",
    "with",
    "vectors",
    "computed",
    "on",
    "the",
    "local",
    "processor",
    "while",
    "the",
    "client",
    "waits",
    "for",
    "results",
    "and",
    "stores",
    "them",
    "in",
    "an",
    "index",
    "for",
    "later",
    "retrieval",
    "by",
    "similarity",
]


def texts(count: int) -> list[str]:
    """Texts of about 100 tokens (a word is about 1.2 WordPiece tokens here), all different."""
    return [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(96)) + f" number {i}" for i in range(count)]


async def bench(threads: int, count: int, rounds: int) -> None:
    embedder = OnnxEmbedder("local-embeddings", ProviderConfig(type="onnx_embedding"), threads)
    started = time.perf_counter()
    embedder._load()
    load_s = time.perf_counter() - started
    corpus = texts(count)
    _, tokens = embedder.embed_texts(corpus[:1])
    for batch in (1, 16, 64):
        best = 0.0
        for _ in range(rounds):
            started = time.perf_counter()
            for start in range(0, count, batch):
                await embedder.embed({"model": "all-minilm-l6-v2", "input": corpus[start : start + batch]})
            best = max(best, count / (time.perf_counter() - started))
        line = {
            "batch": batch,
            "embeddings_per_s": round(best, 1),
            "ms_per_request": round(1000 * batch / best, 1),
            "tokens_per_text": tokens,
            "threads": threads,
            "load_s": round(load_s, 2),
        }
        print(json.dumps(line), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(bench(args.threads, args.texts, args.rounds))


if __name__ == "__main__":
    main()
