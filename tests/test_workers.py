"""`responsa serve --workers N`: several processes on one port and one database."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from responsa.config import local_model_available
from tests.support import HTTP, Process, base_env, start_server


def test_several_workers_share_state(tmp_path: Path, fake_upstream: Process, db_url: str) -> None:
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": fake_upstream.url + "/v1", "RESPONSA_DB_URL": db_url}
    with start_server(tmp_path, "workers", env, ("--workers", "2")) as server:
        client = server.client()

        def chain(i: int) -> str:
            first = client.responses.create(model="openai/gpt-4o", input=f"start {i}")
            second = client.responses.create(
                model="openai/gpt-4o", input="more", previous_response_id=first.id
            )
            return client.responses.retrieve(second.id).status  # any worker may answer any call

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(chain, range(16))) == ["completed"] * 16

        conversation = client.conversations.create()
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda i: client.responses.create(
                        model="openai/gpt-4o", input=f"turn {i}", conversation=conversation.id
                    ),
                    range(8),
                )
            )
        items = list(client.conversations.items.list(conversation.id, order="asc", limit=100))
        assert len(items) == 16 and [i.role for i in items[1::2]] == ["assistant"] * 8  # type: ignore[union-attr]

        # Every worker's metrics, whichever worker answers the scrape (multiprocess mode)
        families = text_string_to_metric_families(HTTP.get(server.url + "/metrics").text)
        created = sum(
            sample.value
            for family in families
            for sample in family.samples
            if sample.name == "responsa_http_requests_total"
            and sample.labels == {"route": "/v1/responses", "method": "POST", "status": "200"}
        )
        assert created == 40


def test_workers_must_be_at_least_one(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "responsa", "serve", "--workers", "0"],
        env={**base_env(), "RESPONSA_DB_URL": f"sqlite:///{tmp_path / 'r.db'}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "responsa: invalid setting --workers: 0 (at least 1)"


@pytest.mark.skipif(not local_model_available(), reason="the local model runtime is not installed")
def test_workers_share_the_local_models_threads(tmp_path: Path) -> None:
    # No OPENAI_API_KEY and no config: the embedded model, 2 local threads by default.
    with start_server(tmp_path, "local-workers", {}, ("--workers", "2")) as server:
        answer = server.client().responses.create(
            model="local/smollm2-135m-instruct", input="Say hi", max_output_tokens=16
        )
        assert answer.output_text
        deadline = time.monotonic() + 30  # the other worker may still be loading
        while server.log.read_text().count("(1 threads)") < 2:  # each worker's load line
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.05)
        log = server.log.read_text()
        assert "2 workers each load the local model" in log and "with 1 of the 2 local threads" in log
        assert "(2 threads)" not in log
