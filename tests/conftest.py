"""Fixtures: real servers in subprocesses (see tests/support.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import (
    HTTP,
    ROOT,
    SEEDS,
    Process,
    Server,
    base_env,
    free_port,
    new_database,
    shared_or_skip,
    start_mcp_server,
    start_server,
)

# The sample app's own suite runs only under the pytest plugin (tests/recording/test_pytest_plugin.py).
collect_ignore = ["sample_app"]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return shared_or_skip()


@pytest.fixture(scope="session")
def fake_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    tmp = tmp_path_factory.mktemp("fake")
    port = free_port()
    proc = Process(
        [sys.executable, str(ROOT / "tests" / "fake_upstream.py"), "--port", str(port)],
        base_env(),
        tmp / "fake.log",
        port,
        "/fake/requests",
    ).start()
    yield proc
    proc.stop()


@pytest.fixture()
def fake(fake_upstream: Process) -> Process:
    """The fake upstream with its record of requests cleared: what this test sent is all it has."""
    HTTP.delete(fake_upstream.url + "/fake/requests")
    return fake_upstream


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database per backend; PostgreSQL ones are dropped afterwards."""
    with new_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process, db_url: str
) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("live"),
        "live",
        {
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": fake_upstream.url + "/v1",
            "RESPONSA_TAVILY_BASE_URL": fake_upstream.url,
            "RESPONSA_DB_URL": db_url,
        },
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def boiling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """The MCP test server with the boiling-point tools (tests/mcp_server.py)."""
    with start_mcp_server(tmp_path_factory.mktemp("mcp"), "boiling") as proc:
        yield proc


def _replay_server(tmp: Path, shared_dir: Path, translation: str) -> Server:
    return start_server(
        tmp,
        "replay",
        {
            "RESPONSA_RECORDING_MODE": "replay",
            "RESPONSA_RECORDING_DIR": os.pathsep.join([str(SEEDS), str(shared_dir / "recordings")]),
            "RESPONSA_TRANSLATION": translation,
        },
    )


@pytest.fixture(scope="session")
def replay_server(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Iterator[Server]:
    """Replay of the seeds and the peer's recordings, in the peer's translation (`ogx`)."""
    server = _replay_server(tmp_path_factory.mktemp("replay"), shared_dir, "ogx")
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["faithful", "ogx"])
def seed_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, shared_dir: Path
) -> Iterator[Server]:
    """The seeds replay under both translations (SPEC §3)."""
    if request.param == "ogx":
        yield request.getfixturevalue("replay_server")
        return
    server = _replay_server(tmp_path_factory.mktemp("replay-faithful"), shared_dir, "faithful")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def strict_server(tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process) -> Iterator[Server]:
    """Responsa (faithful translation, SQLite) in front of an upstream as strict as OpenAI
    (`/strict/v1`: unknown Chat Completions fields are a 400), which follows prompt scripts."""
    server = start_server(
        tmp_path_factory.mktemp("strict"),
        "strict",
        {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": fake_upstream.url + "/strict/v1"},
    )
    yield server
    server.stop()
