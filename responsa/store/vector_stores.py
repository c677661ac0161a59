"""Vector stores on SQLAlchemy (mixed into `SqlStore`): stores, their files and batches, the
chunks (text and float32 vector) and the keyword index over them.

Attaching a file queues its ingest job in the same transaction (`background_jobs`, kind
`ingest`), so a file is never `in_progress` without a job that will settle it. Saving a file's
chunks happens only while the file is still `in_progress`: a file cancelled or removed during its
ingestion keeps no chunks. Every change a search can see bumps the store's `version`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import Connection

from responsa.store.base import Order
from responsa.store.database import Database
from responsa.store.paging import in_order, past
from responsa.store.tables import (
    background_jobs,
    vector_store_batches,
    vector_store_chunks,
    vector_store_files,
    vector_stores,
)

STATUSES = ("in_progress", "completed", "failed", "cancelled")
# Words too common to rank by: dropped from keyword queries on SQLite, as PostgreSQL's
# `english` configuration drops them.
STOPWORDS = frozenset(
    """a an and are as at be but by for from has have he her his i if in into is it its of on or our
    she so than that the their them then there these they this to was we were what when where which
    who will with you your""".split()  # noqa: SIM905
)


def _terms(query: str) -> list[str]:
    words = "".join(ch if ch.isalnum() else " " for ch in query.lower()).split()
    return [w for w in dict.fromkeys(words) if w not in STOPWORDS]


@dataclass(slots=True)
class StoredVectorStore:
    id: str
    owner: str
    created_at: int
    name: str
    metadata: dict[str, str]
    expires_after: dict[str, Any] | None
    expires_at: int | None
    last_active_at: int | None
    embedding_model: str
    version: int = 0
    counts: dict[str, int] | None = None
    usage_bytes: int = 0


@dataclass(slots=True)
class StoredVectorStoreFile:
    vector_store_id: str
    file_id: str
    created_at: int
    status: str
    attributes: dict[str, Any]
    chunking: dict[str, Any]
    last_error: dict[str, str] | None = None
    usage_bytes: int = 0
    batch_id: str | None = None


@dataclass(slots=True)
class StoredBatch:
    id: str
    vector_store_id: str
    created_at: int
    cancelled: bool
    counts: dict[str, int]


@dataclass(slots=True)
class ChunkRows:
    """A store's chunks as a search reads them: parallel lists, in chunk-key order."""

    keys: list[int]
    file_ids: list[str]
    vectors: list[bytes]


def _store(row: Any) -> StoredVectorStore:
    return StoredVectorStore(
        id=row.id,
        owner=row.owner,
        created_at=row.created_at,
        name=row.name,
        metadata=orjson.loads(row.metadata),
        expires_after=orjson.loads(row.expires_after) if row.expires_after else None,
        expires_at=row.expires_at,
        last_active_at=row.last_active_at,
        embedding_model=row.embedding_model,
        version=row.version,
    )


def _file(row: Any) -> StoredVectorStoreFile:
    return StoredVectorStoreFile(
        vector_store_id=row.vector_store_id,
        file_id=row.file_id,
        created_at=row.created_at,
        status=row.status,
        attributes=orjson.loads(row.attributes),
        chunking=orjson.loads(row.chunking),
        last_error=orjson.loads(row.last_error) if row.last_error else None,
        usage_bytes=row.usage_bytes,
        batch_id=row.batch_id,
    )


def _counts(conn: Connection, *where: Any) -> dict[str, int]:
    c = vector_store_files.c
    rows = conn.execute(select(c.status, func.count()).where(*where).group_by(c.status)).all()
    counts = {status: 0 for status in STATUSES}
    counts.update({row[0]: int(row[1]) for row in rows})
    counts["total"] = sum(counts[s] for s in STATUSES)
    return counts


def _bump(conn: Connection, store_id: str) -> None:
    c = vector_stores.c
    conn.execute(update(vector_stores).where(c.id == store_id).values(version=c.version + 1))


def _mine(owner: str | None) -> list[Any]:
    return [vector_stores.c.owner == owner] if owner is not None else []


class SqlVectorStores:
    db: Database

    # -- stores -------------------------------------------------------------------------------

    async def create_vector_store(self, store: StoredVectorStore) -> None:
        values = {
            "id": store.id,
            "owner": store.owner,
            "created_at": store.created_at,
            "name": store.name,
            "metadata": orjson.dumps(store.metadata).decode(),
            "expires_after": orjson.dumps(store.expires_after).decode() if store.expires_after else None,
            "expires_at": store.expires_at,
            "last_active_at": store.last_active_at,
            "embedding_model": store.embedding_model,
        }
        await self.db.write(lambda conn: conn.execute(insert(vector_stores).values(values)))

    def _with_counts(self, conn: Connection, store: StoredVectorStore) -> StoredVectorStore:
        c = vector_store_files.c
        store.counts = _counts(conn, c.vector_store_id == store.id)
        used = conn.scalar(select(func.sum(c.usage_bytes)).where(c.vector_store_id == store.id))
        store.usage_bytes = int(used or 0)
        return store

    async def get_vector_store(self, store_id: str, owner: str | None = None) -> StoredVectorStore | None:
        query = select(vector_stores).where(vector_stores.c.id == store_id, *_mine(owner))

        def get(conn: Connection) -> StoredVectorStore | None:
            row = conn.execute(query).first()
            return None if row is None else self._with_counts(conn, _store(row))

        return await self.db.read(get)

    async def vector_store_version(self, store_id: str) -> int | None:
        query = select(vector_stores.c.version).where(vector_stores.c.id == store_id)
        version: int | None = await self.db.read(lambda conn: conn.scalar(query))
        return version

    async def list_vector_stores(
        self, *, after: str | None, before: str | None, limit: int, order: Order, owner: str | None
    ) -> tuple[list[StoredVectorStore], bool] | None:
        c = vector_stores.c

        def page(conn: Connection) -> tuple[list[StoredVectorStore], bool] | None:
            conditions = _mine(owner)
            for cursor_id, later in ((after, order == "asc"), (before, order == "desc")):
                if cursor_id is None:
                    continue
                cursor = conn.execute(
                    select(c.created_at, c.pk).where(c.id == cursor_id, *_mine(owner))
                ).first()
                if cursor is None:
                    return None
                conditions.append(past(c, cursor, newer=later))
            keys = in_order(c, order == "asc")
            rows = conn.execute(
                select(vector_stores).where(*conditions).order_by(*keys).limit(limit + 1)
            ).all()
            return [self._with_counts(conn, _store(row)) for row in rows[:limit]], len(rows) > limit

        return await self.db.read(page)

    async def update_vector_store(self, store_id: str, values: dict[str, Any]) -> None:
        encoded = {
            key: orjson.dumps(value).decode()
            if key in ("metadata", "expires_after") and value is not None
            else value
            for key, value in values.items()
        }
        statement = update(vector_stores).where(vector_stores.c.id == store_id).values(encoded)
        await self.db.write(lambda conn: conn.execute(statement))

    async def delete_vector_store(self, store_id: str) -> None:
        def remove(conn: Connection) -> None:
            self._cancel_jobs(conn, vector_store_files.c.vector_store_id == store_id)
            self._remove_chunks(conn, store_id, None)
            conn.execute(delete(vector_store_files).where(vector_store_files.c.vector_store_id == store_id))
            conn.execute(
                delete(vector_store_batches).where(vector_store_batches.c.vector_store_id == store_id)
            )
            conn.execute(delete(vector_stores).where(vector_stores.c.id == store_id))

        await self.db.write(remove)

    # -- files --------------------------------------------------------------------------------

    async def attach_files(
        self,
        files: list[StoredVectorStoreFile],
        jobs: list[tuple[str, dict[str, Any]]],
        batch: StoredBatch | None,
    ) -> list[StoredVectorStoreFile]:
        """Attach `files` (those already attached stay as they are), queueing `jobs` (key,
        context) for the new ones; the attached rows come back in order."""
        c = vector_store_files.c

        def attach(conn: Connection) -> list[StoredVectorStoreFile]:
            if batch is not None:
                conn.execute(
                    insert(vector_store_batches).values(
                        id=batch.id, vector_store_id=batch.vector_store_id, created_at=batch.created_at
                    )
                )
            result = []
            for file, (key, context) in zip(files, jobs, strict=True):
                where = (c.vector_store_id == file.vector_store_id, c.file_id == file.file_id)
                row = conn.execute(select(vector_store_files).where(*where)).first()
                if row is not None:
                    result.append(_file(row))
                    continue
                conn.execute(
                    insert(vector_store_files).values(
                        vector_store_id=file.vector_store_id,
                        file_id=file.file_id,
                        batch_id=file.batch_id,
                        created_at=file.created_at,
                        status="in_progress",
                        attributes=orjson.dumps(file.attributes).decode(),
                        chunking=orjson.dumps(file.chunking).decode(),
                    )
                )
                conn.execute(
                    background_jobs.insert().values(
                        response_id=key,
                        kind="ingest",
                        created_at=time.time(),
                        request="{}",
                        context=orjson.dumps(context).decode(),
                        state="queued",
                        cancel_requested=False,
                        attempts=0,
                    )
                )
                result.append(file)
            return result

        return await self.db.write(attach)

    async def get_vector_store_file(self, store_id: str, file_id: str) -> StoredVectorStoreFile | None:
        c = vector_store_files.c
        query = select(vector_store_files).where(c.vector_store_id == store_id, c.file_id == file_id)

        def get(conn: Connection) -> StoredVectorStoreFile | None:
            row = conn.execute(query).first()
            return None if row is None else _file(row)

        return await self.db.read(get)

    async def list_vector_store_files(
        self,
        store_id: str,
        *,
        after: str | None,
        before: str | None,
        limit: int,
        order: Order,
        status: str | None,
        batch_id: str | None = None,
    ) -> tuple[list[StoredVectorStoreFile], bool] | None:
        c = vector_store_files.c

        def page(conn: Connection) -> tuple[list[StoredVectorStoreFile], bool] | None:
            conditions: list[Any] = [c.vector_store_id == store_id]
            if status is not None:
                conditions.append(c.status == status)
            if batch_id is not None:
                conditions.append(c.batch_id == batch_id)
            for cursor_id, later in ((after, order == "asc"), (before, order == "desc")):
                if cursor_id is None:
                    continue
                cursor = conn.execute(
                    select(c.created_at, c.pk).where(c.vector_store_id == store_id, c.file_id == cursor_id)
                ).first()
                if cursor is None:
                    return None
                conditions.append(past(c, cursor, newer=later))
            keys = in_order(c, order == "asc")
            query = select(vector_store_files).where(*conditions).order_by(*keys).limit(limit + 1)
            rows = conn.execute(query).all()
            return [_file(row) for row in rows[:limit]], len(rows) > limit

        return await self.db.read(page)

    async def update_file_attributes(self, store_id: str, file_id: str, attributes: dict[str, Any]) -> None:
        c = vector_store_files.c

        def change(conn: Connection) -> None:
            conn.execute(
                update(vector_store_files)
                .where(c.vector_store_id == store_id, c.file_id == file_id)
                .values(attributes=orjson.dumps(attributes).decode())
            )
            _bump(conn, store_id)

        await self.db.write(change)

    async def detach_file(self, store_id: str, file_id: str) -> bool:
        c = vector_store_files.c
        where = (c.vector_store_id == store_id, c.file_id == file_id)

        def remove(conn: Connection) -> bool:
            self._cancel_jobs(conn, *where)
            self._remove_chunks(conn, store_id, file_id)
            removed = conn.execute(delete(vector_store_files).where(*where)).rowcount
            _bump(conn, store_id)
            return bool(removed)

        return await self.db.write(remove)

    async def detach_everywhere(self, file_id: str) -> None:
        """The file was deleted (`DELETE /v1/files`): it leaves every store it was in."""
        c = vector_store_files.c
        query = select(c.vector_store_id).where(c.file_id == file_id)
        for store_id in await self.db.read(lambda conn: list(conn.scalars(query))):
            await self.detach_file(store_id, file_id)

    def _cancel_jobs(self, conn: Connection, *where: Any) -> None:
        from responsa.vector_stores.ingest import job_key  # the key's one definition

        c = vector_store_files.c
        rows = conn.execute(
            select(c.vector_store_id, c.file_id).where(*where, c.status == "in_progress")
        ).all()
        keys = [job_key(row.vector_store_id, row.file_id) for row in rows]
        if keys:
            conn.execute(
                update(background_jobs)
                .where(background_jobs.c.response_id.in_(keys), background_jobs.c.state != "done")
                .values(cancel_requested=True)
            )

    def _remove_chunks(self, conn: Connection, store_id: str, file_id: str | None) -> None:
        c = vector_store_chunks.c
        where = [c.vector_store_id == store_id] + ([c.file_id == file_id] if file_id is not None else [])
        if self.db.dialect == "sqlite":
            keys = [row.pk for row in conn.execute(select(c.pk).where(*where))]
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join(str(int(k)) for k in part)
                conn.execute(text(f"DELETE FROM vector_store_chunks_fts WHERE rowid IN ({marks})"))
        conn.execute(delete(vector_store_chunks).where(*where))

    # -- ingestion ----------------------------------------------------------------------------

    async def save_chunks(
        self, store_id: str, file_id: str, texts: list[str], vectors: list[bytes], usage_bytes: int
    ) -> bool:
        """Store a file's chunks and mark it completed: only if it is still `in_progress`."""
        c = vector_store_files.c
        where = (c.vector_store_id == store_id, c.file_id == file_id, c.status == "in_progress")

        def save(conn: Connection) -> bool:
            if conn.execute(select(c.pk).where(*where)).first() is None:
                return False
            self._remove_chunks(conn, store_id, file_id)  # an earlier attempt's, if any
            rows = [
                {"vector_store_id": store_id, "file_id": file_id, "position": i, "text": t, "vector": v}
                for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
            ]
            if rows:
                conn.execute(insert(vector_store_chunks), rows)
            if self.db.dialect == "sqlite" and rows:
                conn.execute(
                    text(
                        "INSERT INTO vector_store_chunks_fts (rowid, text, vector_store_id) "
                        "SELECT pk, text, vector_store_id FROM vector_store_chunks "
                        "WHERE vector_store_id = :s AND file_id = :f"
                    ),
                    {"s": store_id, "f": file_id},
                )
            conn.execute(
                update(vector_store_files).where(*where).values(status="completed", usage_bytes=usage_bytes)
            )
            _bump(conn, store_id)
            return True

        return await self.db.write(save)

    async def settle_file(
        self, store_id: str, file_id: str, status: str, error: dict[str, str] | None
    ) -> None:
        """Mark an `in_progress` file failed or cancelled (a settled file stays as it is)."""
        c = vector_store_files.c
        statement = (
            update(vector_store_files)
            .where(c.vector_store_id == store_id, c.file_id == file_id, c.status == "in_progress")
            .values(status=status, last_error=orjson.dumps(error).decode() if error else None)
        )
        await self.db.write(lambda conn: conn.execute(statement))

    # -- batches ------------------------------------------------------------------------------

    async def get_batch(self, store_id: str, batch_id: str) -> StoredBatch | None:
        b = vector_store_batches.c
        query = select(vector_store_batches).where(b.id == batch_id, b.vector_store_id == store_id)

        def get(conn: Connection) -> StoredBatch | None:
            row = conn.execute(query).first()
            if row is None:
                return None
            counts = _counts(conn, vector_store_files.c.batch_id == batch_id)
            return StoredBatch(row.id, row.vector_store_id, row.created_at, bool(row.cancelled), counts)

        return await self.db.read(get)

    async def cancel_batch(self, store_id: str, batch_id: str) -> None:
        c = vector_store_files.c

        def cancel(conn: Connection) -> None:
            b = vector_store_batches.c
            conn.execute(update(vector_store_batches).where(b.id == batch_id).values(cancelled=True))
            self._cancel_jobs(conn, c.batch_id == batch_id)
            conn.execute(
                update(vector_store_files)
                .where(c.batch_id == batch_id, c.status == "in_progress")
                .values(status="cancelled")
            )

        await self.db.write(cancel)

    # -- search -------------------------------------------------------------------------------

    async def chunk_rows(self, store_id: str) -> tuple[int, ChunkRows]:
        """The store's version and all its chunks' keys, files and vectors, read together."""
        c = vector_store_chunks.c

        def read(conn: Connection) -> tuple[int, ChunkRows]:
            version = conn.scalar(select(vector_stores.c.version).where(vector_stores.c.id == store_id))
            rows = conn.execute(
                select(c.pk, c.file_id, c.vector).where(c.vector_store_id == store_id).order_by(c.pk)
            ).all()
            chunks = ChunkRows(
                [r.pk for r in rows], [r.file_id for r in rows], [bytes(r.vector) for r in rows]
            )
            return int(version or 0), chunks

        return await self.db.read(read)

    async def keyword_search(self, store_id: str, query: str, limit: int) -> list[int]:
        """Chunk keys matching `query`, best first (FTS5's bm25, or PostgreSQL's ts_rank)."""
        if self.db.dialect == "sqlite":
            terms = _terms(query)
            if not terms:
                return []
            match = " OR ".join(f'"{t}"' for t in terms)
            statement = text(
                "SELECT rowid FROM vector_store_chunks_fts WHERE vector_store_chunks_fts MATCH :q "
                "AND vector_store_id = :s ORDER BY bm25(vector_store_chunks_fts) LIMIT :n"
            )
        else:
            match = " | ".join(t for t in "".join(ch if ch.isalnum() else " " for ch in query).split() if t)
            if not match:
                return []
            statement = text(
                "SELECT pk FROM vector_store_chunks, to_tsquery('english', :q) AS query "
                "WHERE vector_store_id = :s AND tsv @@ query ORDER BY ts_rank(tsv, query) DESC LIMIT :n"
            )
        params = {"q": match, "s": store_id, "n": limit}
        return await self.db.read(lambda conn: [int(row[0]) for row in conn.execute(statement, params)])

    async def chunk_texts(self, keys: list[int]) -> dict[int, tuple[str, str]]:
        c = vector_store_chunks.c
        query = select(c.pk, c.file_id, c.text).where(c.pk.in_(keys))
        return await self.db.read(lambda conn: {r.pk: (r.file_id, r.text) for r in conn.execute(query)})

    async def file_chunks(self, store_id: str, file_id: str) -> list[str]:
        c = vector_store_chunks.c
        query = select(c.text).where(c.vector_store_id == store_id, c.file_id == file_id).order_by(c.position)
        return await self.db.read(lambda conn: list(conn.scalars(query)))

    async def store_attributes(self, store_id: str) -> dict[str, dict[str, Any]]:
        c = vector_store_files.c
        query = select(c.file_id, c.attributes).where(c.vector_store_id == store_id, c.status == "completed")
        return await self.db.read(
            lambda conn: {r.file_id: orjson.loads(r.attributes) for r in conn.execute(query)}
        )
