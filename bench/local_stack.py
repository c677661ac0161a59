"""The tests' fake upstream and a `responsa serve` in front of it, for the small benchmarks
(`large_bodies.py`, `websocket.py`): live mode, a fresh SQLite file, no embedded model.

    with local_stack("responsa-bench-") as (server, port):
        ...  # server is the Popen of `responsa serve`, listening on 127.0.0.1:<port>
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def local_stack(prefix: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    fake_port, port = free_port(), free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    fake = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_upstream.py"), "--port", str(fake_port)], **quiet
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
        [sys.executable, "-m", "responsa", "serve", "--port", str(port)], env=env, cwd=ROOT, **quiet
    )
    try:
        wait_http(f"http://127.0.0.1:{fake_port}/v1/models")
        wait_http(f"http://127.0.0.1:{port}/v1/health")
        yield server, port
    finally:
        server.terminate()
        fake.terminate()
        server.wait(10)
        fake.wait(10)
