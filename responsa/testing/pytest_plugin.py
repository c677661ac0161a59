"""The pytest plugin: your app's suite against one Responsa, recording or replaying.

    pytest --responsa=record               # once, against the real upstream (OPENAI_API_KEY)
    pytest --responsa=replay               # then offline: every upstream call from recordings
    pytest --responsa=record-if-missing --responsa-dir tests/recordings

With `--responsa`, one server (`responsa serve`, SQLite in a temporary folder) runs for the
session in that mode, with `--responsa-dir` (default `recordings`) as its recordings and
`--responsa-config` as its config. Tests get:

- `responsa_client`: an `openai.OpenAI` client of that server whose requests carry the test's
  node id as the test id (`X-Responsa-Test-Id`), so each test has its own recordings;
- `responsa_base_url` (`http://127.0.0.1:<port>/v1`) and `responsa_headers` (the test-id
  header) for any other client.

At the end the terminal summary says how many upstream calls hit, missed and were recorded,
names the recordings written (`record-if-missing`) and the recordings no test used
(`replay`, from the server's hits log). Without `--responsa` the plugin does nothing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MODES = ("record", "replay", "record-if-missing")
HEADER = "X-Responsa-Test-Id"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("responsa", "Responsa: record and replay the upstream calls of your suite")
    group.addoption("--responsa", choices=MODES, default=None, help="start a Responsa server in this mode")
    group.addoption(
        "--responsa-dir", default="recordings", help="the recordings directory (default: recordings)"
    )
    group.addoption("--responsa-config", default=None, help="a Responsa config file for the server")


class ResponsaServer:
    """One `responsa serve` for the session."""

    def __init__(self, mode: str, directory: Path, config: str | None, hits_log: Path | None = None) -> None:
        self.mode = mode
        self.directory = directory.resolve()
        self.workdir = Path(tempfile.mkdtemp(prefix="responsa-pytest-"))
        self.hits_log = hits_log or self.workdir / "hits.jsonl"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.before = (
            {p.resolve() for p in self.directory.rglob("*.json")} if self.directory.is_dir() else set()
        )
        if mode != "replay":
            self.directory.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "RESPONSA_RECORDING_MODE": mode,
            "RESPONSA_RECORDING_DIR": str(self.directory),
            "RESPONSA_RECORDING_HITS_LOG": str(self.hits_log),
            "RESPONSA_DB_URL": f"sqlite:///{self.workdir / 'responsa.db'}",
        }
        command = [sys.executable, "-m", "responsa", "serve", "--port", str(self.port)]
        if config:
            command += ["--config", config]
        self.log = (self.workdir / "server.log").open("wb")
        self.proc = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                said = (self.workdir / "server.log").read_text().strip().splitlines()
                raise pytest.UsageError(
                    f"Responsa did not start (exit {self.proc.returncode}): "
                    f"{said[-1] if said else 'no output'} (log: {self.workdir / 'server.log'})"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise pytest.UsageError(f"Responsa did not answer in 60 s: see {self.workdir / 'server.log'}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    def summary(self) -> list[str]:
        return summary(self.mode, self.directory, self.hits_log, self.before, self.workdir / "server.log")


def _json_files(directory: Path) -> set[Path]:
    return {p.resolve() for p in directory.rglob("*.json")} if directory.is_dir() else set()


def summary(mode: str, directory: Path, hits_log: Path, before: set[Path], server_log: Path) -> list[str]:
    """The end-of-run lines: what the hits log counted, then the recordings written
    (record modes) or never used (replay)."""
    from responsa.recording import manage
    from responsa.recording.hits import read_hits

    outcomes = (
        Counter(hit.get("outcome", "?") for hit in read_hits(hits_log)) if hits_log.is_file() else Counter()
    )
    lines = [
        f"responsa ({mode}, {directory}): {outcomes['hit']} hits, {outcomes['miss']} misses, "
        f"{outcomes['recorded']} recorded"
    ]
    if mode != "replay":
        lines += [f"  recorded {p}" for p in sorted(_json_files(directory) - before)]
    else:
        unused = manage.unused([directory], manage.default_redaction(), hits_log)
        lines.append(f"  {len(unused)} recordings were not used" + (":" if unused else ""))
        lines += [f"    {p}" for p in unused[:50]]
        if len(unused) > 50:
            lines.append(f"    ... and {len(unused) - 50} more (`responsa recordings prune --dry-run`)")
    if outcomes["miss"]:
        lines.append(f"  misses are explained in {server_log}")
    return lines


_server: ResponsaServer | None = None
_shared_hits: Path | None = None  # with pytest-xdist: the one hits log every worker's server writes
_shared_before: set[Path] = set()  # with pytest-xdist: the recordings there were before the run


def _distributed(config: pytest.Config) -> bool:
    """This is pytest-xdist's controller: its workers run the tests, each with its own server."""
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    global _server, _shared_hits, _shared_before
    mode = config.getoption("--responsa")
    if not mode:
        return
    directory = Path(config.getoption("--responsa-dir"))
    if _distributed(config):
        _shared_hits = Path(tempfile.mkdtemp(prefix="responsa-pytest-")) / "hits.jsonl"
        _shared_before = _json_files(directory.resolve())
        return
    worker = getattr(config, "workerinput", {})
    hits = Path(worker["responsa_hits"]) if "responsa_hits" in worker else None
    _server = ResponsaServer(mode, directory, config.getoption("--responsa-config"), hits)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: tell each worker where the shared hits log is."""
    if _shared_hits is not None:
        node.workerinput["responsa_hits"] = str(_shared_hits)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _server is not None:
        _server.stop()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines: list[str] = []
    if _server is not None:
        lines = _server.summary()
    elif _shared_hits is not None:  # the controller sums up its workers' runs
        directory = Path(config.getoption("--responsa-dir")).resolve()
        server_logs = _shared_hits.parent.parent / "responsa-pytest-*" / "server.log"
        lines = summary(config.getoption("--responsa"), directory, _shared_hits, _shared_before, server_logs)
    if lines:
        terminalreporter.section("responsa")
        for line in lines:
            terminalreporter.write_line(line)


def _running() -> ResponsaServer:
    if _server is None:
        pytest.skip("no Responsa server: run pytest with --responsa=record|replay|record-if-missing")
    return _server


@pytest.fixture(scope="session")
def responsa_base_url() -> str:
    return _running().base_url


@pytest.fixture()
def responsa_headers(request: pytest.FixtureRequest) -> dict[str, str]:
    _running()
    return {HEADER: request.node.nodeid}


@pytest.fixture()
def responsa_client(responsa_base_url: str, responsa_headers: dict[str, str]) -> Iterator[Any]:
    import openai

    with openai.OpenAI(
        base_url=responsa_base_url, api_key="unused", default_headers=responsa_headers, max_retries=0
    ) as client:
        yield client
