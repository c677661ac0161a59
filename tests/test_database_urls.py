"""Database URLs as users write them: an in-memory SQLite database, driver names left out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support import HTTP, PG_URL, Process, new_database, start_server


def _exercise(url: str, tmp: Path, fake_upstream: Process) -> None:
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": fake_upstream.url + "/v1", "RESPONSA_DB_URL": url}
    with start_server(tmp, "urls", env) as server:
        client = server.client()

        def chain(i: int) -> list[str]:
            first = client.responses.create(model="openai/gpt-4o", input=f"start {i}")
            second = client.responses.create(
                model="openai/gpt-4o", input="more", previous_response_id=first.id
            )
            items = client.responses.input_items.list(second.id)
            return [client.responses.retrieve(second.id).status, items.data[0].type]

        # Concurrent reads and writes: in memory, every one must see the same single database.
        with ThreadPoolExecutor(6) as pool:
            assert list(pool.map(chain, range(12))) == [["completed", "message"]] * 12
        conversation = client.conversations.create(items=[{"role": "user", "content": "hello"}])
        client.responses.create(model="openai/gpt-4o", input="again", conversation=conversation.id)
        roles = [item.role for item in client.conversations.items.list(conversation.id, order="asc")]  # type: ignore[union-attr]
        assert roles == ["user", "user", "assistant"]
        listed = HTTP.get(server.url + "/v1/responses", params={"limit": 100}).json()["data"]
        assert len(listed) == 25


def test_in_memory_sqlite(tmp_path: Path, fake_upstream: Process) -> None:
    _exercise("sqlite://", tmp_path, fake_upstream)


def test_postgresql_url_without_driver(tmp_path: Path, fake_upstream: Process) -> None:
    if not PG_URL:
        pytest.skip("RESPONSA_TEST_POSTGRES_URL is not set")
    with new_database("postgresql", tmp_path) as url:
        _exercise(url.replace("postgresql+asyncpg://", "postgresql://"), tmp_path, fake_upstream)
