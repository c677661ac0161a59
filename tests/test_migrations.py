"""Migration 0010 on a database that already holds responses (SQLite and PostgreSQL): the
console's texts are filled in for the old rows, the new filters find them, and it downgrades."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from responsa.store.base import ResponseFilter
from responsa.store.database import Database
from responsa.store.sql import MIGRATIONS, SqlStore
from tests.support import new_database


def _to(revision: str, downgrade: bool = False) -> object:
    def migrate(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, revision)

    return migrate


OLD_ROW = {
    "id": "resp_old",
    "created_at": 1_700_000_000,
    "model": "gpt-4o-mini",
    "status": "completed",
    "response": json.dumps(
        {
            "id": "resp_old",
            "output": [
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Forty-two."}],
                }
            ],
        }
    ),
    "input_items": json.dumps([{"type": "message", "role": "user", "content": "What is the answer?"}]),
    "messages": "[]",
    "owner": "",
}


async def _check(url: str) -> None:
    database = Database(url)
    await database.start(_to("0009"))  # type: ignore[arg-type]

    def insert(conn: Connection) -> None:
        conn.execute(
            sa.text(f"INSERT INTO responses ({', '.join(OLD_ROW)}) VALUES (:{', :'.join(OLD_ROW)})"), OLD_ROW
        )

    await database.write(insert)
    await database.close()
    store = SqlStore(url)
    await store.start()  # migrates to the head, 0010 included
    try:
        found = await store.list_responses(
            after=None, before=None, limit=10, order="desc", model=None, where=ResponseFilter(text="answer")
        )
        assert found is not None and [row.id for row in found.rows] == ["resp_old"]
        answered = await store.list_responses(
            after=None, before=None, limit=10, order="desc", model=None, where=ResponseFilter(text="forty")
        )
        assert answered is not None and [row.id for row in answered.rows] == ["resp_old"]
        stored = await store.get_response("resp_old")
        assert stored is not None and stored.trace is None  # an old response has no trace
    finally:
        await store.close()
    database = Database(url)
    await database.start(_to("0009", downgrade=True))  # type: ignore[arg-type]

    def columns(conn: Connection) -> set[str]:
        return {column["name"] for column in sa.inspect(conn).get_columns("responses")}

    assert "input_text" not in await database.read(columns)
    await database.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_0010_fills_the_texts_of_stored_responses(kind: str, tmp_path: Path) -> None:
    with new_database(kind, tmp_path) as url:
        asyncio.run(_check(url))
