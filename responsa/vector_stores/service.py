"""The vector stores API's logic, under the routes (`api/vector_stores.py`) and above the SQL
(`store/vector_stores.py`): ownership (another owner's store is a 404), attaching files with
their ingest jobs, batches, search and the wire shapes (the SDK's `VectorStore`,
`VectorStoreFile`, `VectorStoreFileBatch`, `VectorStoreSearchResponse`)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from responsa.errors import InvalidRequest, NotFound
from responsa.files.storage import Files
from responsa.providers.registry import ModelRegistry
from responsa.store.base import Order
from responsa.store.vector_stores import StoredBatch, StoredVectorStore, StoredVectorStoreFile
from responsa.vector_stores import search as searching
from responsa.vector_stores.chunking import resolve_strategy
from responsa.vector_stores.filters import Predicate, compile_filter
from responsa.vector_stores.index import IndexCache
from responsa.vector_stores.ingest import job_key
from responsa.vector_stores.requests import (
    CreateFileBatchRequest,
    CreateVectorStoreFileRequest,
    CreateVectorStoreRequest,
    SearchVectorStoreRequest,
    UpdateVectorStoreRequest,
)

if TYPE_CHECKING:
    from responsa.engine.background import JobRunner
    from responsa.store.vector_stores import SqlVectorStores

DAY_S = 86400
TOUCH_S = 60


@dataclass(frozen=True, slots=True)
class Found:
    """One chunk a search found."""

    file_id: str
    filename: str
    score: float
    attributes: dict[str, Any]
    text: str


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _expires_at(expires_after: dict[str, Any] | None, last_active_at: int) -> int | None:
    return None if expires_after is None else last_active_at + int(expires_after["days"]) * DAY_S


def shown_store(store: StoredVectorStore) -> dict[str, Any]:
    counts = store.counts or {}
    expired = store.expires_at is not None and store.expires_at <= time.time()
    status = "expired" if expired else "in_progress" if counts.get("in_progress") else "completed"
    return {
        "id": store.id,
        "object": "vector_store",
        "created_at": store.created_at,
        "name": store.name,
        "usage_bytes": store.usage_bytes,
        "file_counts": counts,
        "status": status,
        "expires_after": store.expires_after,
        "expires_at": store.expires_at,
        "last_active_at": store.last_active_at,
        "metadata": store.metadata,
    }


def shown_file(file: StoredVectorStoreFile) -> dict[str, Any]:
    return {
        "id": file.file_id,
        "object": "vector_store.file",
        "usage_bytes": file.usage_bytes,
        "created_at": file.created_at,
        "vector_store_id": file.vector_store_id,
        "status": file.status,
        "last_error": file.last_error,
        "chunking_strategy": file.chunking,
        "attributes": file.attributes,
    }


def shown_batch(batch: StoredBatch) -> dict[str, Any]:
    counts = batch.counts
    if counts["in_progress"]:
        status = "in_progress"
    elif batch.cancelled:
        status = "cancelled"
    elif counts["failed"] and not counts["completed"]:
        status = "failed"
    else:
        status = "completed"
    return {
        "id": batch.id,
        "object": "vector_store.files_batch",
        "created_at": batch.created_at,
        "vector_store_id": batch.vector_store_id,
        "status": status,
        "file_counts": counts,
    }


class VectorStores:
    def __init__(
        self, store: SqlVectorStores, files: Files, registry: ModelRegistry, runner: JobRunner, model: str
    ) -> None:
        self.store = store
        self.files = files
        self.registry = registry
        self.runner = runner
        self.model = model
        self.cache = IndexCache(store)

    async def get(self, store_id: str, owner: str | None) -> StoredVectorStore:
        found = await self.store.get_vector_store(store_id, owner)
        if found is None:
            raise NotFound(f"No vector store found with id '{store_id}'.", param="vector_store_id")
        return found

    async def create(self, body: CreateVectorStoreRequest, owner: str) -> StoredVectorStore:
        strategy = resolve_strategy(body.chunking_strategy)
        now = int(time.time())
        expires_after = body.expires_after.model_dump() if body.expires_after else None
        stored = StoredVectorStore(
            id=new_id("vs"),
            owner=owner,
            created_at=now,
            name=body.name or "",
            metadata=body.metadata or {},
            expires_after=expires_after,
            expires_at=_expires_at(expires_after, now),
            last_active_at=now,
            embedding_model=self.model,
        )
        if body.file_ids:
            await self._check_files(body.file_ids, owner, "file_ids")
        await self.store.create_vector_store(stored)
        if body.file_ids:
            await self._attach(stored.id, body.file_ids, {}, strategy, owner, None)
        return await self.get(stored.id, None)

    async def list_stores(
        self, *, after: str | None, before: str | None, limit: int, order: Order, owner: str | None
    ) -> tuple[list[StoredVectorStore], bool]:
        page = await self.store.list_vector_stores(
            after=after, before=before, limit=limit, order=order, owner=owner
        )
        if page is None:
            raise InvalidRequest(
                "The cursor names no vector store of this caller.", param="after" if after else "before"
            )
        return page

    async def update(
        self, store_id: str, body: UpdateVectorStoreRequest, owner: str | None
    ) -> StoredVectorStore:
        current = await self.get(store_id, owner)
        values: dict[str, Any] = {}
        fields = body.model_fields_set
        if "name" in fields:
            values["name"] = body.name or ""
        if "metadata" in fields:
            values["metadata"] = body.metadata or {}
        if "expires_after" in fields:
            expires_after = body.expires_after.model_dump() if body.expires_after else None
            now = int(time.time())
            values.update(
                expires_after=expires_after, expires_at=_expires_at(expires_after, now), last_active_at=now
            )
        if values:
            await self.store.update_vector_store(current.id, values)
        return await self.get(store_id, owner)

    async def delete(self, store_id: str, owner: str | None) -> None:
        await self.get(store_id, owner)
        await self.store.delete_vector_store(store_id)
        self.cache.drop(store_id)

    # -- files --------------------------------------------------------------------------------

    async def _check_files(self, file_ids: list[str], owner: str | None, param: str) -> None:
        found = await self.files.find(list(dict.fromkeys(file_ids)), owner)
        for file_id in file_ids:
            if file_id not in found:
                raise NotFound(f"No file found with id '{file_id}'.", param=param)

    async def _attach(
        self,
        store_id: str,
        file_ids: list[str],
        attributes: dict[str, Any],
        strategy: dict[str, Any],
        owner: str | None,
        batch: StoredBatch | None,
    ) -> list[StoredVectorStoreFile]:
        now = int(time.time())
        unique = list(dict.fromkeys(file_ids))
        rows = [
            StoredVectorStoreFile(
                store_id, f, now, "in_progress", attributes, strategy, batch_id=batch.id if batch else None
            )
            for f in unique
        ]
        jobs = [
            (job_key(store_id, f), {"vector_store_id": store_id, "file_id": f, "owner": owner})
            for f in unique
        ]
        attached = await self.store.attach_files(rows, jobs, batch)
        self.runner.nudge()
        return attached

    async def attach(
        self, store_id: str, body: CreateVectorStoreFileRequest, owner: str | None
    ) -> StoredVectorStoreFile:
        await self.get(store_id, owner)
        strategy = resolve_strategy(body.chunking_strategy)
        await self._check_files([body.file_id], owner, "file_id")
        (attached,) = await self._attach(
            store_id, [body.file_id], body.attributes or {}, strategy, owner, None
        )
        return attached

    async def get_file(self, store_id: str, file_id: str, owner: str | None) -> StoredVectorStoreFile:
        await self.get(store_id, owner)
        found = await self.store.get_vector_store_file(store_id, file_id)
        if found is None:
            raise NotFound(
                f"No file found with id '{file_id}' in vector store '{store_id}'.", param="file_id"
            )
        return found

    async def list_files(
        self,
        store_id: str,
        owner: str | None,
        *,
        after: str | None,
        before: str | None,
        limit: int,
        order: Order,
        status: str | None,
        batch_id: str | None = None,
    ) -> tuple[list[StoredVectorStoreFile], bool]:
        await self.get(store_id, owner)
        if batch_id is not None:
            await self.get_batch(store_id, batch_id, owner)
        page = await self.store.list_vector_store_files(
            store_id, after=after, before=before, limit=limit, order=order, status=status, batch_id=batch_id
        )
        if page is None:
            raise InvalidRequest(
                "The cursor names no file of this vector store.", param="after" if after else "before"
            )
        return page

    async def update_file(
        self, store_id: str, file_id: str, attributes: dict[str, Any] | None, owner: str | None
    ) -> StoredVectorStoreFile:
        await self.get_file(store_id, file_id, owner)
        await self.store.update_file_attributes(store_id, file_id, attributes or {})
        return await self.get_file(store_id, file_id, owner)

    async def detach(self, store_id: str, file_id: str, owner: str | None) -> None:
        await self.get_file(store_id, file_id, owner)
        await self.store.detach_file(store_id, file_id)

    async def detach_everywhere(self, file_id: str) -> None:
        """A deleted file (`DELETE /v1/files`) leaves every vector store, its chunks with it."""
        await self.store.detach_everywhere(file_id)

    async def content(self, store_id: str, file_id: str, owner: str | None) -> list[str]:
        await self.get_file(store_id, file_id, owner)
        return await self.store.file_chunks(store_id, file_id)

    # -- batches ------------------------------------------------------------------------------

    async def create_batch(
        self, store_id: str, body: CreateFileBatchRequest, owner: str | None
    ) -> StoredBatch:
        await self.get(store_id, owner)
        strategy = resolve_strategy(body.chunking_strategy)
        await self._check_files(body.file_ids, owner, "file_ids")
        batch = StoredBatch(new_id("vsfb"), store_id, int(time.time()), False, {})
        await self._attach(store_id, body.file_ids, body.attributes or {}, strategy, owner, batch)
        return await self.get_batch(store_id, batch.id, owner)

    async def get_batch(self, store_id: str, batch_id: str, owner: str | None) -> StoredBatch:
        await self.get(store_id, owner)
        found = await self.store.get_batch(store_id, batch_id)
        if found is None:
            raise NotFound(
                f"No file batch found with id '{batch_id}' in vector store '{store_id}'.", param="batch_id"
            )
        return found

    async def cancel_batch(self, store_id: str, batch_id: str, owner: str | None) -> StoredBatch:
        await self.get_batch(store_id, batch_id, owner)
        await self.store.cancel_batch(store_id, batch_id)
        return await self.get_batch(store_id, batch_id, owner)

    # -- search -------------------------------------------------------------------------------

    async def usable(self, store_id: str, owner: str | None) -> StoredVectorStore:
        """The caller's store, if it can be searched: 404 when unknown, 400 once expired."""
        vector_store = await self.get(store_id, owner)
        if vector_store.expires_at is not None and vector_store.expires_at <= time.time():
            raise InvalidRequest(
                f"Vector store '{store_id}' has expired and can no longer be searched.",
                param="vector_store_id",
                code="vector_store_expired",
            )
        return vector_store

    async def find(
        self,
        store_id: str,
        queries: list[str],
        owner: str | None,
        *,
        keep: Predicate | None = None,
        mode: str = "hybrid",
        limit: int = 10,
        threshold: float = 0.0,
        weights: tuple[float, float] = (1.0, 1.0),
    ) -> list[Found]:
        """The best chunks of one store for the queries (`search.py`), with their text, file
        name and attributes; shared by the search route and the `file_search` tool. A search
        counts as activity: `last_active_at` moves, and with it an `expires_after` deadline."""
        vector_store = await self.usable(store_id, owner)
        hits = await searching.search(
            self.store,
            self.cache,
            self.registry,
            store_id=store_id,
            model=vector_store.embedding_model,
            queries=queries,
            keep=keep,
            mode=mode,
            limit=limit,
            threshold=threshold,
            weights=weights,
        )
        texts = await self.store.chunk_texts([h.key for h in hits])
        names = await self.files.find(list({h.file_id for h in hits}), None)
        attributes = await self.store.store_attributes(store_id)
        await self._touch(vector_store)
        return [
            Found(
                file_id=h.file_id,
                filename=names[h.file_id].filename if h.file_id in names else "",
                score=round(h.score, 6),
                attributes=attributes.get(h.file_id, {}),
                text=texts[h.key][1],
            )
            for h in hits
            if h.key in texts
        ]

    async def _touch(self, vector_store: StoredVectorStore) -> None:
        """At most one write a minute per store, so a busy store does not write on every search."""
        now = int(time.time())
        if vector_store.last_active_at is not None and now - vector_store.last_active_at < TOUCH_S:
            return
        values: dict[str, Any] = {"last_active_at": now}
        if vector_store.expires_after is not None:
            values["expires_at"] = _expires_at(vector_store.expires_after, now)
        await self.store.update_vector_store(vector_store.id, values)

    async def search(
        self, store_id: str, body: SearchVectorStoreRequest, owner: str | None
    ) -> dict[str, Any]:
        keep = compile_filter(body.filters) if body.filters is not None else None
        queries = [body.query] if isinstance(body.query, str) else list(body.query)
        ranking = body.ranking_options
        found = await self.find(
            store_id,
            queries,
            owner,
            keep=keep,
            mode=body.search_mode,
            limit=body.max_num_results,
            threshold=ranking.score_threshold if ranking else 0.0,
        )
        data = [
            {
                "file_id": f.file_id,
                "filename": f.filename,
                "score": f.score,
                "attributes": f.attributes,
                "content": [{"type": "text", "text": f.text}],
            }
            for f in found
        ]
        return {
            "object": "vector_store.search_results.page",
            "search_query": queries,
            "data": data,
            "has_more": False,
            "next_page": None,
        }
