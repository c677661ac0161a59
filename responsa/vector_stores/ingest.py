"""Ingestion, one job per (store, file) on the background job queue (kind `ingest`):

    read the file -> extract its text -> chunk -> embed in batches -> store chunks and vectors

Any replica's `JobRunner` takes the job; a dead replica's lease lapses and another takes it
over, running it again from the start (saving chunks replaces an earlier attempt's). A file that
cannot be read, or has no text, is `failed` with `last_error`; so is a job that raises, or whose
workers keep dying (`fail`). A file cancelled or detached meanwhile keeps no chunks."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from responsa.errors import ResponsaError
from responsa.files.storage import Files
from responsa.providers.registry import ModelRegistry
from responsa.store.base import Job
from responsa.vector_stores.chunking import chunk, tokenizer_for
from responsa.vector_stores.extract import Unreadable, extract_text

if TYPE_CHECKING:
    from responsa.store.vector_stores import SqlVectorStores

log = logging.getLogger("responsa.vector_stores")

KIND = "ingest"
EMBED_BATCH = 64


def job_key(store_id: str, file_id: str) -> str:
    return f"ingest:{store_id}:{file_id}"


async def embed(registry: ModelRegistry, model_id: str, texts: list[str]) -> list[bytes]:
    """Unit float32 vectors (little-endian bytes) of `texts`, `EMBED_BATCH` at a time."""
    import numpy as np

    model = registry.resolve(model_id)
    result: list[bytes] = []
    for start in range(0, len(texts), EMBED_BATCH):
        answer = await model.provider.embed(
            {"model": model.provider_model_id, "input": texts[start : start + EMBED_BATCH]}
        )
        rows = np.array(
            [item.embedding for item in sorted(answer.data, key=lambda e: e.index)], dtype=np.float32
        )
        rows /= np.clip(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12, None)
        result.extend(row.astype("<f4").tobytes() for row in rows)
    return result


class Ingestor:
    """The `ingest` job kind, run by `JobRunner` (`run`, and `fail` when it cannot)."""

    def __init__(self, store: SqlVectorStores, files: Files, registry: ModelRegistry) -> None:
        self.store = store
        self.files = files
        self.registry = registry

    async def run(self, job: Job) -> None:
        store_id, file_id = job.context["vector_store_id"], job.context["file_id"]
        attached = await self.store.get_vector_store_file(store_id, file_id)
        vector_store = await self.store.get_vector_store(store_id)
        if attached is None or vector_store is None or attached.status != "in_progress":
            return  # detached, deleted or cancelled while queued
        try:
            texts = await self._chunks(file_id, attached.chunking, vector_store.embedding_model)
            vectors = await embed(self.registry, vector_store.embedding_model, texts)
        except Unreadable as exc:
            await self.store.settle_file(
                store_id, file_id, "failed", {"code": exc.code, "message": exc.message}
            )
            return
        except ResponsaError as exc:
            message = f"The file could not be embedded: {exc.message}"
            await self.store.settle_file(
                store_id, file_id, "failed", {"code": "server_error", "message": message}
            )
            return
        usage = sum(len(t.encode()) + len(v) for t, v in zip(texts, vectors, strict=True))
        await self.store.save_chunks(store_id, file_id, texts, vectors, usage)

    async def _chunks(self, file_id: str, strategy: dict[str, Any], model: str) -> list[str]:
        found = await self.files.find([file_id], None)
        file = found.get(file_id)
        if file is None:
            raise Unreadable("invalid_file", f"The file '{file_id}' no longer exists.")
        data = await self.files.content(file)
        text = await asyncio.to_thread(extract_text, data, file.filename, file.content_type)
        chunks = await asyncio.to_thread(chunk, text, strategy, tokenizer_for(model))
        if not chunks:
            raise Unreadable("invalid_file", f"The file '{file.filename}' contains no text.")
        return chunks

    async def fail(self, job: Job, message: str) -> None:
        error = {"code": "server_error", "message": message}
        await self.store.settle_file(job.context["vector_store_id"], job.context["file_id"], "failed", error)
