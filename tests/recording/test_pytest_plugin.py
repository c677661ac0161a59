"""The pytest plugin drives a sample app's own suite (`tests/sample_app/`): recorded once
against the fake upstream, then replayed with the upstream gone, with the same results, and
the end-of-run summary saying what hit, what was recorded and what was never used."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, Process

DEAD_UPSTREAM = "http://127.0.0.1:9/v1"


def run_suite(app: Path, mode: str, upstream: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": upstream, "RESPONSA_NO_LOCAL_MODEL": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", f"--responsa={mode}"]
    command += ["--responsa-dir", str(app / "recordings"), str(app)]
    return subprocess.run(command, cwd=app, env=env, capture_output=True, text=True, timeout=300, check=False)


def answers(output: str) -> list[str]:
    return re.findall(r"ANSWERS .*", output)


def test_record_then_replay_offline(tmp_path: Path, fake_upstream: Process) -> None:
    app = tmp_path / "app"
    shutil.copytree(ROOT / "tests" / "sample_app", app)
    (app / "pytest.ini").write_text("[pytest]\n")  # the app's own settings, not this repository's

    recorded = run_suite(app, "record", fake_upstream.url + "/v1")
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    assert "2 passed" in recorded.stdout
    assert re.search(r"responsa \(record, .*\): 0 hits, 0 misses, 3 recorded", recorded.stdout)
    files = sorted((app / "recordings").glob("*.json"))
    assert len(files) == 3
    assert "test_app.py::test_greet" in files[0].read_text() + files[1].read_text() + files[2].read_text()

    replayed = run_suite(app, "replay", DEAD_UPSTREAM)  # nothing answers there
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert answers(replayed.stdout) == answers(recorded.stdout) != []
    assert re.search(r"responsa \(replay, .*\): 3 hits, 0 misses, 0 recorded", replayed.stdout)
    assert "0 recordings were not used" in replayed.stdout

    (app / "test_app.py").write_text((app / "test_app.py").read_text().replace('"Ada"', '"Grace"'))
    missed = run_suite(app, "replay", DEAD_UPSTREAM)  # a changed prompt: a loud miss, and one unused
    assert missed.returncode == 1
    assert "No recording" in missed.stdout and "differs at messages[0].content" in missed.stdout
    assert "1 misses" in missed.stdout and "1 recordings were not used" in missed.stdout
