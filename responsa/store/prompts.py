"""Prompt templates on SQLAlchemy (mixed into `SqlStore`): a `prompts` row per prompt (its
owner, its latest and its default version) and a `prompt_versions` row per version.

An update is optimistic: it moves `latest_version` from the version the client last saw to
the next one in a single conditional UPDATE, so of two updates from the same version one
wins and the other finds no row to move (its caller answers that it is no longer the latest).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from responsa.store.base import StoredPrompt
from responsa.store.database import Database
from responsa.store.tables import prompt_versions, prompts

_COLUMNS = (
    prompts.c.id,
    prompts.c.owner,
    prompts.c.default_version,
    prompt_versions.c.version,
    prompt_versions.c.prompt,
    prompt_versions.c.variables,
    prompt_versions.c.created_at,
)


def _prompt(row: Any) -> StoredPrompt:
    return StoredPrompt(
        id=row.id,
        version=row.version,
        prompt=row.prompt,
        variables=orjson.loads(row.variables),
        is_default=row.version == row.default_version,
        created_at=row.created_at,
        owner=row.owner,
    )


def _mine(prompt_id: str, owner: str | None) -> list[Any]:
    """The conditions that find a prompt by id, for one owner or (None) any."""
    conditions: list[Any] = [prompts.c.id == prompt_id]
    if owner is not None:
        conditions.append(prompts.c.owner == owner)
    return conditions


def _versions() -> Any:
    return select(*_COLUMNS).join(prompt_versions, prompt_versions.c.prompt_id == prompts.c.id)


def _version_values(prompt: StoredPrompt) -> dict[str, Any]:
    return {
        "prompt_id": prompt.id,
        "version": prompt.version,
        "created_at": prompt.created_at,
        "prompt": prompt.prompt,
        "variables": orjson.dumps(prompt.variables).decode(),
    }


class SqlPrompts:
    db: Database

    async def save_prompt(self, prompt: StoredPrompt) -> None:
        row = {
            "id": prompt.id,
            "owner": prompt.owner,
            "created_at": prompt.created_at,
            "latest_version": prompt.version,
            "default_version": prompt.version,
        }

        def save(conn: Connection) -> None:
            conn.execute(insert(prompts).values(row))
            conn.execute(insert(prompt_versions).values(_version_values(prompt)))

        await self.db.write(save)

    async def get_prompt(
        self, prompt_id: str, version: int | None = None, owner: str | None = None
    ) -> StoredPrompt | None:
        wanted = prompts.c.default_version if version is None else version
        query = _versions().where(*_mine(prompt_id, owner), prompt_versions.c.version == wanted)

        def get(conn: Connection) -> StoredPrompt | None:
            row = conn.execute(query).first()
            return _prompt(row) if row is not None else None

        return await self.db.read(get)

    async def list_prompts(self, owner: str | None = None) -> list[StoredPrompt]:
        query = _versions().where(prompt_versions.c.version == prompts.c.default_version)
        if owner is not None:
            query = query.where(prompts.c.owner == owner)
        query = query.order_by(prompts.c.created_at.desc(), prompts.c.pk.desc())

        def listed(conn: Connection) -> list[StoredPrompt]:
            return [_prompt(row) for row in conn.execute(query)]

        return await self.db.read(listed)

    async def prompt_versions(self, prompt_id: str, owner: str | None = None) -> list[StoredPrompt] | None:
        query = _versions().where(*_mine(prompt_id, owner)).order_by(prompt_versions.c.version)

        def listed(conn: Connection) -> list[StoredPrompt] | None:
            return [_prompt(row) for row in conn.execute(query)] or None

        return await self.db.read(listed)

    async def add_prompt_version(
        self, prompt: StoredPrompt, after: int, make_default: bool, owner: str | None = None
    ) -> bool:
        moved: dict[str, Any] = {"latest_version": prompt.version}
        if make_default:
            moved["default_version"] = prompt.version
        mine = _mine(prompt.id, owner)
        claim = update(prompts).where(*mine, prompts.c.latest_version == after).values(moved)

        def add(conn: Connection) -> bool:
            if conn.execute(claim).rowcount != 1:
                return False
            conn.execute(insert(prompt_versions).values(_version_values(prompt)))
            return True

        return await self.db.write(add)

    async def set_default_prompt_version(
        self, prompt_id: str, version: int, owner: str | None = None
    ) -> StoredPrompt | None:
        exists = select(prompt_versions.c.version).where(
            prompt_versions.c.prompt_id == prompt_id, prompt_versions.c.version == version
        )
        mine = _mine(prompt_id, owner)
        move = update(prompts).where(*mine, exists.exists()).values(default_version=version)
        query = _versions().where(*mine, prompt_versions.c.version == version)

        def set_default(conn: Connection) -> StoredPrompt | None:
            if conn.execute(move).rowcount != 1:
                return None
            row = conn.execute(query).first()
            return _prompt(row) if row is not None else None

        return await self.db.write(set_default)

    async def delete_prompt(self, prompt_id: str, owner: str | None = None) -> bool:
        def remove(conn: Connection) -> bool:
            if conn.execute(select(prompts.c.pk).where(*_mine(prompt_id, owner))).first() is None:
                return False
            # The versions go explicitly: SQLite enforces the cascade only with foreign keys on.
            conn.execute(delete(prompt_versions).where(prompt_versions.c.prompt_id == prompt_id))
            conn.execute(delete(prompts).where(prompts.c.id == prompt_id))
            return True

        return await self.db.write(remove)
