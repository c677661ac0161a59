"""Search over one store: vector (exact cosine, `index.py`), keyword (the database's full-text
index) or hybrid (both, fused by reciprocal rank), after the attribute filter.

The mode is the extension field `search_mode` (`hybrid`, the default; `vector`; `keyword`),
sent with the SDK's `extra_body`. Scores are in [0, 1]: the cosine similarity for `vector`;
for `keyword` and `hybrid`, the fused reciprocal-rank score divided by the best possible one
(first in every list), so 1.0 means ranked first by every method. `score_threshold` applies to
that score. In `hybrid`, each method's ranks count with a weight (the `file_search` tool's
`ranking_options.hybrid_search`; 1 and 1 by default). `ranking_options.ranker` is accepted;
there is no re-ranker beyond this."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from responsa.providers.registry import ModelRegistry
from responsa.vector_stores.filters import Predicate
from responsa.vector_stores.index import IndexCache
from responsa.vector_stores.ingest import embed

if TYPE_CHECKING:
    from responsa.store.vector_stores import SqlVectorStores

RRF_K = 60
CANDIDATES = 100  # how many each method proposes before fusion


@dataclass(frozen=True, slots=True)
class Hit:
    key: int
    file_id: str
    score: float


async def search(
    store: SqlVectorStores,
    cache: IndexCache,
    registry: ModelRegistry,
    *,
    store_id: str,
    model: str,
    queries: list[str],
    keep: Predicate | None,
    mode: str,
    limit: int,
    threshold: float,
    weights: tuple[float, float] = (1.0, 1.0),
) -> list[Hit]:
    import numpy as np

    index = await cache.get(store_id)
    allowed_files: set[str] | None = None
    if keep is not None:
        attributes = await store.store_attributes(store_id)
        allowed_files = {file_id for file_id, attrs in attributes.items() if keep(attrs)}
    file_of = dict(zip(index.keys, index.file_ids, strict=True))
    ranked: list[tuple[float, list[int]]] = []  # (weight, keys best first) of each method
    cosine: dict[int, float] = {}
    if mode in ("vector", "hybrid"):
        vectors = await embed(registry, model, queries)
        query = np.mean([np.frombuffer(v, dtype="<f4") for v in vectors], axis=0)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        allowed = None
        if allowed_files is not None:
            allowed = np.fromiter(
                (f in allowed_files for f in index.file_ids), dtype=bool, count=len(index.keys)
            )
        found = index.nearest(query.astype(np.float32), allowed, CANDIDATES if mode == "hybrid" else limit)
        cosine = dict(found)
        ranked.append((weights[0], [key for key, _ in found]))
    if mode in ("keyword", "hybrid"):
        keys = await store.keyword_search(store_id, " ".join(queries), CANDIDATES * 4)
        kept = [k for k in keys if k in file_of and (allowed_files is None or file_of[k] in allowed_files)]
        ranked.append((weights[1], kept[:CANDIDATES]))
    if mode == "vector":
        hits = [Hit(k, file_of[k], max(0.0, min(1.0, s))) for k, s in cosine.items() if k in file_of]
    else:
        fused: dict[int, float] = {}
        for weight, keys_ in ranked:
            for rank, key in enumerate(keys_):
                fused[key] = fused.get(key, 0.0) + weight / (RRF_K + rank + 1)
        best = sum(weight for weight, _ in ranked) / (RRF_K + 1)
        hits = [Hit(k, file_of[k], s / best) for k, s in fused.items()]
    hits.sort(key=lambda h: (-h.score, h.key))
    return [h for h in hits if h.score >= threshold][:limit]


def check_mode(value: Any) -> str:
    from responsa.errors import InvalidRequest

    if value is None:
        return "hybrid"
    if value not in ("hybrid", "vector", "keyword"):
        raise InvalidRequest(
            "Invalid value for 'search_mode': expected 'hybrid', 'vector' or 'keyword'.", param="search_mode"
        )
    return str(value)
