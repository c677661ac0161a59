"""Peak server memory under concurrent maximum-size request bodies.

    .venv/bin/python bench/large_bodies.py                     # 4 concurrent 60 MiB bodies
    .venv/bin/python bench/large_bodies.py --bodies 8 --mib 30

It starts the tests' fake upstream and `responsa serve` (live mode, a fresh SQLite file), sends
the bodies at once (each one user message of `--mib` MiB, `store: false`) and prints the server's
resident memory before and its peak (`VmHWM`) after, with how each request ended.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from local_stack import local_stack  # noqa: E402


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"no {field} for pid {pid}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bodies", type=int, default=4)
    parser.add_argument("--mib", type=int, default=60)
    args = parser.parse_args()
    with local_stack("responsa-bodies-") as (server, port):
        before = memory_kib(server.pid, "VmRSS")
        text = "x" * (args.mib << 20)
        body = ('{"model": "openai/gpt-4o", "store": false, "input": "' + text + '"}').encode()
        del text

        def send(_: int) -> str:
            started = time.monotonic()
            resp = httpx.post(
                f"http://127.0.0.1:{port}/v1/responses",
                content=body,
                headers={"content-type": "application/json"},
                timeout=300,
            )
            return f"{resp.status_code} after {time.monotonic() - started:.1f} s"

        with concurrent.futures.ThreadPoolExecutor(args.bodies) as pool:
            outcomes = list(pool.map(send, range(args.bodies)))
        peak = memory_kib(server.pid, "VmHWM")
        print(f"{args.bodies} concurrent bodies of {args.mib} MiB: {', '.join(outcomes)}")
        print(f"server RSS before {before / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
