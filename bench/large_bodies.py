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
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


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
    tmp = Path(tempfile.mkdtemp(prefix="responsa-bodies-"))
    fake_port, port = free_port(), free_port()
    fake = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_upstream.py"), "--port", str(fake_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        **os.environ,
        "OPENAI_API_KEY": "k",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
        "RESPONSA_DB_URL": f"sqlite:///{tmp / 'bench.db'}",
        "RESPONSA_NO_LOCAL_MODEL": "1",
        "RESPONSA_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "responsa", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{fake_port}/v1/models")
        wait_http(f"http://127.0.0.1:{port}/v1/health")
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
    finally:
        server.terminate()
        fake.terminate()
        server.wait(10)
        fake.wait(10)


if __name__ == "__main__":
    main()
