"""Vector store search latency and ingestion throughput, over HTTP against a real server.

    .venv/bin/python bench/vector_search.py [--sizes 1000,10000,100000] [--queries 200]
        [--postgres]   # a fresh database made from RESPONSA_TEST_POSTGRES_URL, dropped after

For each size, a store is seeded straight into the database (random unit vectors, texts of
random words) and the server's `POST /v1/vector_stores/{id}/search` is timed in each mode
(`vector`, `keyword`, `hybrid`), the query embedded by the embedded MiniLM model every time;
the first search of a store (loading its vectors into the process cache) is reported apart.
Then a text file is uploaded and attached, and chunks per second are timed until it is
`completed`. One JSON line per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from responsa.store.sql import SqlStore  # noqa: E402
from responsa.store.vector_stores import StoredVectorStore, StoredVectorStoreFile  # noqa: E402
from responsa.vector_stores.chunking import AUTO  # noqa: E402
from tests.support import new_database, start_server  # noqa: E402

VOCAB = [f"w{i}" for i in range(5000)] + "server vector search keyword launch code database".split()  # noqa: SIM905


async def seed(db_url: str, size: int) -> str:
    store = SqlStore(db_url)
    await store.start()
    store_id = f"vs_bench{size}_{random.getrandbits(32):08x}"
    now = int(time.time())
    await store.create_vector_store(
        StoredVectorStore(store_id, "", now, f"bench-{size}", {}, None, None, now, "local/all-minilm-l6-v2")
    )
    rng = np.random.default_rng(size)
    per_file = 1000
    for start in range(0, size, per_file):
        count = min(per_file, size - start)
        file_id = f"file-bench{start:08d}"
        row = StoredVectorStoreFile(store_id, file_id, now, "in_progress", {"n": start}, AUTO)
        await store.attach_files([row], [(f"bench:{store_id}:{file_id}", {})], None)
        vectors = rng.standard_normal((count, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        texts = [" ".join(random.choices(VOCAB, k=60)) for _ in range(count)]
        await store.save_chunks(store_id, file_id, texts, [v.astype("<f4").tobytes() for v in vectors], 0)
    await store.close()
    return store_id


def timed(client: httpx.Client, store_id: str, mode: str, queries: int) -> dict[str, float]:
    times = []
    for i in range(queries):
        query = f"launch code {random.choice(VOCAB)} {i}"
        started = time.perf_counter()
        answer = client.post(
            f"/v1/vector_stores/{store_id}/search", json={"query": query, "search_mode": mode}
        )
        times.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
    }


def ingest(client: httpx.Client, words: int) -> dict[str, float]:
    text = " ".join(random.choices(VOCAB[:2000], k=words)).encode()
    file_id = client.post(
        "/v1/files", files={"file": ("big.txt", text, "text/plain")}, data={"purpose": "assistants"}
    ).json()["id"]
    store_id = client.post("/v1/vector_stores", json={"name": "ingest"}).json()["id"]
    strategy = {"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50}}
    started = time.perf_counter()
    client.post(
        f"/v1/vector_stores/{store_id}/files", json={"file_id": file_id, "chunking_strategy": strategy}
    ).raise_for_status()
    while client.get(f"/v1/vector_stores/{store_id}/files/{file_id}").json()["status"] == "in_progress":
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    chunks = len(client.get(f"/v1/vector_stores/{store_id}/files/{file_id}/content").json()["data"])
    return {"chunks": chunks, "seconds": round(elapsed, 2), "chunks_per_s": round(chunks / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--ingest-words", type=int, default=60000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vs-bench-"))
    with new_database("postgresql" if args.postgres else "sqlite", tmp) as db_url:
        run(args, tmp, db_url)


def run(args: argparse.Namespace, tmp: Path, db_url: str) -> None:
    backend = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    sizes = [int(s) for s in args.sizes.split(",")]
    stores = {size: asyncio.run(seed(db_url, size)) for size in sizes}
    server = start_server(tmp, "bench", {"RESPONSA_DB_URL": db_url, "OPENAI_API_KEY": "unused"})
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for size, store_id in stores.items():
                started = time.perf_counter()
                client.post(
                    f"/v1/vector_stores/{store_id}/search", json={"query": "warm up"}
                ).raise_for_status()
                cold = round((time.perf_counter() - started) * 1000, 1)
                for mode in ("vector", "keyword", "hybrid"):
                    result = timed(client, store_id, mode, args.queries)
                    line = {"db": backend, "chunks": size, "mode": mode, **result, "first_search_ms": cold}
                    print(json.dumps(line), flush=True)
            print(json.dumps({"db": backend, "ingest": ingest(client, args.ingest_words)}), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
