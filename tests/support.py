"""Test support: real servers in subprocesses, talked to over HTTP with the official SDK.

* `fake_upstream` — tests/fake_upstream.py, playing the model.
* `live_server` — Responsa in live mode against the fake upstream, once per store backend
  (SQLite always; PostgreSQL too when RESPONSA_TEST_POSTGRES_URL is set).
* `replay_server` — Responsa in replay mode over the committed seeds and ../shared/recordings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import openai
import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "tests" / "seeds"
SHARED = Path(os.environ.get("RESPONSA_SHARED_DIR", ROOT.parent / "shared")).resolve()
PG_URL = os.environ.get("RESPONSA_TEST_POSTGRES_URL")


# One pooled client for the whole run: creating one per call costs more than the call.
HTTP = httpx.Client(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RESPONSA_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Process:
    """A subprocess serving HTTP on 127.0.0.1:<port>; its output goes to a log file."""

    def __init__(
        self, args: list[str], env: dict[str, str], log: Path, port: int, health: str | None
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.args, self.env, self.health = args, env, health
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        self._log_file = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.args, env=self.env, stdout=self._log_file, stderr=subprocess.STDOUT, cwd=ROOT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log_file.close()
                raise RuntimeError(f"{self.args} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self._healthy():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.args} did not become healthy:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        if self.health is None:  # anything listening will do
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0
        try:
            return HTTP.get(self.url + self.health, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()


class Server(Process):
    """A Responsa server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clients: list[openai.OpenAI] = []

    def __enter__(self) -> Server:
        return self

    def client(
        self,
        test_id: str | None = None,
        default_headers: dict[str, str] | None = None,
        api_key: str = "test-key",
        **kwargs: Any,
    ) -> openai.OpenAI:
        headers = {"X-OGX-Provider-Data": json.dumps({"__test_id": test_id})} if test_id else {}
        headers.update(default_headers or {})
        client = openai.OpenAI(
            base_url=self.url + "/v1",
            api_key=api_key,
            max_retries=0,
            default_headers=headers,
            timeout=30,
            **kwargs,
        )
        # Kept until the server stops, then closed: a client collected with open sockets
        # would raise ResourceWarning (an error here) in whichever test runs at that moment.
        self.clients.append(client)
        return client

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        super().stop()


def upstream_env(fake: Process, **settings: str) -> dict[str, str]:
    """The environment of a server whose provider `openai` is the fake upstream, plus settings."""
    return {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": fake.url + "/v1", **settings}


def start_server(tmp: Path, name: str, env: dict[str, str], args: tuple[str, ...] = ()) -> Server:
    port = free_port()
    full_env = {**base_env(), **env}
    full_env.setdefault("RESPONSA_DB_URL", f"sqlite:///{tmp / (name + '.db')}")
    # The tests' own MCP servers and search fake listen on loopback: allow-listed (outbound policy).
    full_env.setdefault("RESPONSA_OUTBOUND_ALLOW", "127.0.0.1,localhost")
    server = Server(
        [sys.executable, "-m", "responsa", "serve", "--port", str(port), *args],
        full_env,
        tmp / f"{name}.log",
        port,
        "/v1/health",
    )
    return server.start()  # type: ignore[return-value]


def shared_or_skip() -> Path:
    if not (SHARED / "recordings").is_dir():
        pytest.skip(f"../shared is absent ({SHARED}): the peer recordings are read in place from there")
    return SHARED


def upstream_requests(fake: Process) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = HTTP.get(fake.url + "/fake/requests").json()
    return result


def start_mcp_server(tmp: Path, tools: str, *extra: str, transport: str = "http") -> Process:
    port = free_port()
    args = [
        sys.executable,
        str(ROOT / "tests" / "mcp_server.py"),
        "--port",
        str(port),
        "--tools",
        tools,
        "--transport",
        transport,
        *extra,
    ]
    proc = Process(args, base_env(), tmp / f"mcp-{tools}-{port}.log", port, None).start()
    proc.mcp_url = f"{proc.url}/{'mcp' if transport == 'http' else 'sse'}"  # type: ignore[attr-defined]
    return proc


async def _admin(sql: str) -> None:
    import asyncpg

    assert PG_URL is not None
    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def new_database(kind: str, tmp: Path) -> Iterator[str]:
    """The URL of a new, empty database: a SQLite file in `tmp`, or a PostgreSQL database on
    RESPONSA_TEST_POSTGRES_URL's server, dropped afterwards (tests never touch other data)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'responsa.db'}"
        return
    if not PG_URL:
        pytest.skip("RESPONSA_TEST_POSTGRES_URL is not set")
    name = f"responsa_test_{secrets.token_hex(6)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_URL.rpartition('/')[0]}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


RESPONSE_TABLES = {  # the tables with rows of a response, and the column naming it
    "responses": "id",
    "response_events": "response_id",
    "background_jobs": "response_id",
    "response_items": "response_id",
    "idempotency_keys": "response_id",
}


def rows_of(db_url: str, response_id: str) -> dict[str, int]:
    """How many rows of each table name this response, read straight from the test database
    (SQLite file or PostgreSQL), not through the server: what is really left in it."""
    if db_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as conn:
            return {
                t: conn.execute(f"SELECT count(*) FROM {t} WHERE {c} = ?", (response_id,)).fetchone()[0]
                for t, c in RESPONSE_TABLES.items()
            }

    async def count() -> dict[str, int]:
        conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return {
                t: await conn.fetchval(f"SELECT count(*) FROM {t} WHERE {c} = $1", response_id)
                for t, c in RESPONSE_TABLES.items()
            }
        finally:
            await conn.close()

    return asyncio.run(count())


def keys_cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**base_env(), "RESPONSA_DB_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "responsa", "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def new_key(db_url: str, *args: str) -> tuple[str, str]:
    done = keys_cli(db_url, "create", *args)
    assert done.returncode == 0, done.stderr
    key_id = done.stderr.split("id ", 1)[1].split(",", 1)[0]
    return done.stdout.strip(), key_id
