"""How fast do the console's pages load with many stored responses?

Fills a fresh database with N responses (default 100,000: the issue's figure) written in
batches through the store's own row shape (`SqlStore._values`), spread over 4 models, 5 statuses,
500 conversations and chains of 5, then starts `responsa serve` on it (the console on, no
keys) and times each page over HTTP: the table unfiltered, by model, status, conversation,
text (a word in every tenth response, and one in none), a day, the second page, a response's
detail (chain lookups included), conversations, jobs. The target is 200 ms per page.

    .venv/bin/python bench/console.py [--count 100000] [--rounds 20] [--db-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from responsa.store.base import StoredResponse
from responsa.store.sql import SqlStore
from responsa.store.tables import conversations, responses

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("gpt-4o-mini", "gpt-4.1", "llama-3-8b", "qwen2.5-7b")
STATUSES = ("completed", "completed", "completed", "failed", "incomplete")
BATCH = 5000


def _response(i: int, now: int) -> StoredResponse:
    created = now - i * 2  # one every two seconds, newest first
    rid = f"resp_{i:048x}"
    word = "lighthouse" if i % 10 == 0 else "harbour"
    text = f"Question {i} about the {word}, and some more words so the row is of a usual size."
    response = {
        "id": rid,
        "object": "response",
        "created_at": created,
        "completed_at": created + 1,
        "model": MODELS[i % len(MODELS)],
        "status": STATUSES[i % len(STATUSES)],
        "background": False,
        "output": [
            {
                "id": f"msg_{i:048x}",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": f"Answer {i}. " * 20, "annotations": []}],
            }
        ],
        "usage": {"input_tokens": 40, "output_tokens": 60, "total_tokens": 100},
    }
    return StoredResponse(
        id=rid,
        created_at=created,
        model=response["model"],
        status=response["status"],
        response=response,
        input_items=[{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}],
        messages=[{"role": "user", "content": text}],
        previous_response_id=f"resp_{i + 1:048x}" if i % 5 else None,
        conversation_id=f"conv_{i % 500:048x}" if i % 3 == 0 else None,
        trace={"ttft_ms": 120.0, "duration_ms": 900.0, "upstream": []},
    )


async def fill(db_url: str, count: int) -> None:
    store = SqlStore(db_url)
    await store.start()
    now = int(time.time())
    started = time.perf_counter()

    def write(conn: object, rows: list[dict[str, object]], table: object) -> None:
        conn.execute(table.insert(), rows)  # type: ignore[attr-defined]

    chats = [
        {"id": f"conv_{c:048x}", "created_at": now - c, "metadata": "{}", "next_position": 0, "owner": ""}
        for c in range(500)
    ]
    await store.db.write(write, chats, conversations)
    for start in range(0, count, BATCH):
        rows = [store._values(_response(i, now)) for i in range(start, min(count, start + BATCH))]
        await store.db.write(write, rows, responses)

    def analyze(conn: object) -> None:  # what autovacuum (PostgreSQL) or `PRAGMA optimize` would have done
        from sqlalchemy import text

        conn.execute(text("ANALYZE"))  # type: ignore[attr-defined]

    await store.db.write(analyze)
    await store.close()
    print(f"filled {count} responses in {time.perf_counter() - started:.1f} s")


def serve(db_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RESPONSA_DB_URL": db_url,
        "RESPONSA_NO_LOCAL_MODEL": "1",
        "OPENAI_API_KEY": "unused",
        "RESPONSA_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "responsa", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server did not start: {log.read_text()[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--db-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument("--port", type=int, default=18931)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.db_url or f"sqlite:///{Path(tmp) / 'console.db'}"
        asyncio.run(fill(db_url, args.count))
        process = serve(db_url, args.port, Path(tmp) / "server.log")
        try:
            base = f"http://127.0.0.1:{args.port}"
            today = time.strftime("%Y-%m-%d", time.gmtime())
            middle = f"resp_{args.count // 2:048x}"
            pages = {
                "table": "/console/responses",
                "table, one model": "/console/responses?model=llama-3-8b",
                "table, failed": "/console/responses?status=failed",
                "table, one conversation": f"/console/responses?conversation=conv_{7:048x}",
                "table, text in 1 of 10": "/console/responses?q=lighthouse",
                "table, text in none": "/console/responses?q=submarine",
                "table, today": f"/console/responses?since={today}",
                "table, a later page": f"/console/responses?after={middle}",
                "response detail": f"/console/responses/{middle}",
                "conversations": "/console/conversations",
                "conversation thread": f"/console/conversations/conv_{7:048x}",
                "jobs": "/console/jobs",
            }
            print(
                f"{'page':<26} {'median':>9} {'p95':>9}   (ms, {args.rounds} loads, {args.count:,} responses)"
            )
            with httpx.Client(base_url=base, timeout=60) as client:
                for name, path in pages.items():
                    assert client.get(path).status_code == 200, path  # warm, and check it renders
                    times = []
                    for _ in range(args.rounds):
                        started = time.perf_counter()
                        client.get(path).raise_for_status()
                        times.append((time.perf_counter() - started) * 1000)
                    times.sort()
                    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
                    print(f"{name:<26} {statistics.median(times):>9.1f} {p95:>9.1f}")
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
