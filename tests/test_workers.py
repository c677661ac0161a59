"""`responsa serve --workers N`: several processes on one port and one database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support import HTTP, Process, start_server


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
