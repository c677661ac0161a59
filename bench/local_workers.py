"""`responsa serve --workers N` with the embedded model: aggregate decode speed under load.

    .venv/bin/python bench/local_workers.py [--workers 2] [--concurrent 4] [--requests 8]

Starts a server with the embedded model (no config, no API key) on a free port, sends
`--requests` non-streaming requests, `--concurrent` at a time, each a greedy answer (no repeat
penalty, as before the local sampling defaults) to the same prompt capped at `--tokens`, and
prints one JSON line: output tokens per second over the whole run and the median request time.
Compare `--workers 1` and `--workers 2` on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RESPONSA_"))}
    with tempfile.TemporaryDirectory() as tmp:
        env["RESPONSA_DB_URL"] = f"sqlite:///{Path(tmp) / 'bench.db'}"
        command = [
            sys.executable,
            "-m",
            "responsa",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with httpx.Client(timeout=600) as client:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if client.get(url + "/v1/health").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise SystemExit("the server did not start")
                    time.sleep(0.1)
                time.sleep(3)  # every worker has loaded its model

                def ask(i: int) -> tuple[float, int]:
                    body = {
                        "model": "local/smollm2-135m-instruct",
                        "input": "Count from 1 to 100, one number per line.",
                        "temperature": 0,
                        "repeat_penalty": 1.0,  # greedy and no penalty: the same answer on any version
                        "max_output_tokens": args.tokens,
                    }
                    started = time.perf_counter()
                    answer = client.post(url + "/v1/responses", json=body).json()
                    return time.perf_counter() - started, answer["usage"]["output_tokens"]

                started = time.perf_counter()
                with ThreadPoolExecutor(args.concurrent) as pool:
                    results = list(pool.map(ask, range(args.requests)))
                wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(30)
    tokens = sum(n for _, n in results)
    print(
        json.dumps(
            {
                "workers": args.workers,
                "concurrent": args.concurrent,
                "requests": args.requests,
                "output_tokens": tokens,
                "wall_s": round(wall, 1),
                "tok_s": round(tokens / wall, 1),
                "request_s_median": round(statistics.median(s for s, _ in results), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
