"""The vector scan behind one small interface (`VectorIndex.nearest`), so an ANN index can
replace the exact one. `ExactIndex` holds a store's unit vectors as one float32 matrix and
scores every row with a dot product (cosine similarity: the vectors are unit length).

`IndexCache` keeps one index per store in this process, checked against the store's `version`
at every search (one small read): a store changed on any replica is reloaded here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from responsa.store.vector_stores import ChunkRows, SqlVectorStores


class VectorIndex(Protocol):
    keys: list[int]
    file_ids: list[str]

    def nearest(
        self, query: np.ndarray[Any, Any], allowed: np.ndarray[Any, Any] | None, k: int
    ) -> list[tuple[int, float]]:
        """The `k` best (chunk key, cosine similarity), best first, among rows where `allowed`."""
        ...


@dataclass
class ExactIndex:
    keys: list[int]
    file_ids: list[str]
    matrix: np.ndarray[Any, Any]

    @classmethod
    def build(cls, rows: ChunkRows) -> ExactIndex:
        import numpy as np

        if rows.vectors:
            matrix = np.frombuffer(b"".join(rows.vectors), dtype="<f4").reshape(len(rows.vectors), -1)
        else:
            matrix = np.zeros((0, 1), dtype=np.float32)
        return cls(rows.keys, rows.file_ids, matrix)

    def nearest(
        self, query: np.ndarray[Any, Any], allowed: np.ndarray[Any, Any] | None, k: int
    ) -> list[tuple[int, float]]:
        import numpy as np

        if not self.keys or query.shape[0] != self.matrix.shape[1]:
            return []
        scores = self.matrix @ query
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        k = min(k, len(self.keys))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.keys[i], float(scores[i])) for i in top if np.isfinite(scores[i])]


class IndexCache:
    def __init__(self, store: SqlVectorStores) -> None:
        self.store = store
        self._indexes: dict[str, tuple[int, VectorIndex]] = {}

    async def get(self, store_id: str) -> VectorIndex:
        version = await self.store.vector_store_version(store_id)
        cached = self._indexes.get(store_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        version, rows = await self.store.chunk_rows(store_id)
        index = ExactIndex.build(rows)
        self._indexes[store_id] = (version, index)
        return index

    def drop(self, store_id: str) -> None:
        self._indexes.pop(store_id, None)
