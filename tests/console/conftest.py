"""The console's servers and browser.

`console` starts one server with API keys for two owners and an admin, recording upstream calls
(record-if-missing) into a fresh directory, so its pages have owners, chains and recording
outcomes to show. The browser is Debian's chromium driven by Playwright (no browser download):
`RESPONSA_TEST_CHROMIUM` names another binary; without one the browser tests skip, saying why.
Screenshots go to `RESPONSA_TEST_ARTIFACTS` (default `build/console-screenshots/`, not committed).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, Process, Server, new_database, new_key, start_server

ARTIFACTS = Path(os.environ.get("RESPONSA_TEST_ARTIFACTS", ROOT / "build" / "console-screenshots"))


@dataclass
class Console:
    server: Server
    db_url: str
    recordings: Path
    alice: str
    bob: str
    admin: str
    alice_id: str

    def client(self, key: str, test_id: str | None = None) -> Any:
        return self.server.client(test_id=test_id, api_key=key)


def console_config(tmp: Path, fake: Process, *lines: str) -> Path:
    """A config file: the fake upstream as provider `openai`, the console on, and `lines`."""
    config = tmp / "responsa.yaml"
    config.write_text(
        f"""
providers:
  openai: {{type: openai, base_url: "{fake.url}/v1", api_key: k, serve_any_model: true}}
default_provider: openai
console: true
"""
        + "".join(line + "\n" for line in lines)
    )
    return config


def recording_config(tmp: Path, fake: Process, db_url: str, recordings: Path, mode: str) -> Path:
    return console_config(
        tmp, fake, f'db_url: "{db_url}"', f'recording: {{mode: {mode}, dir: "{recordings}"}}'
    )


@contextlib.contextmanager
def started_console(tmp: Path, kind: str, fake: Process) -> Iterator[Console]:
    with new_database(kind, tmp) as url:
        alice, alice_id = new_key(url, "--name", "alice", "--owner", "alice")
        bob, _ = new_key(url, "--name", "bob", "--owner", "bob")
        admin, _ = new_key(url, "--name", "ops", "--admin")
        recordings = tmp / "recordings"
        config = recording_config(tmp, fake, url, recordings, "record-if-missing")
        server = start_server(tmp, "console", {"RESPONSA_DB_URL": url}, ("--config", str(config)))
        try:
            yield Console(server, url, recordings, alice, bob, admin, alice_id)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def console(
    tmp_path_factory: pytest.TempPathFactory, db_url: str, fake_upstream: Process
) -> Iterator[Console]:
    """The console on each database (the pages' queries run on both)."""
    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    with started_console(tmp_path_factory.mktemp("console"), kind, fake_upstream) as started:
        yield started


@pytest.fixture(scope="module")
def browser_console(tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process) -> Iterator[Console]:
    """The console the browser tests drive (SQLite: the queries are the ones tested above)."""
    with started_console(tmp_path_factory.mktemp("browser"), "sqlite", fake_upstream) as started:
        yield started


def _chromium() -> str | None:
    named = os.environ.get("RESPONSA_TEST_CHROMIUM")
    return named or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Playwright's sync API keeps an event loop running on this
    thread while it is open, so it is closed with the module: a later test calling asyncio.run()
    in the same worker would fail otherwise."""
    executable = _chromium()
    if executable is None:
        pytest.skip("no chromium on this machine (apt-get install chromium; .ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (bash scripts/setup.sh --dev)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture()
def shoot(request: pytest.FixtureRequest) -> Any:
    """`shoot(page, "name")` saves a screenshot of the page under ARTIFACTS."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}.png".replace("/", "_")
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
