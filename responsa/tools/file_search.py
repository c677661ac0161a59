"""file_search: the model searches the caller's vector stores (`vector_stores/`) and reads the
chunks it found, each with a marker it can cite.

    spec = FileSearchSpec.parse(tool, "tools[0]")        # a 400 naming the field, before streaming
    found, error = await spec.run(searcher, query, owner)
    content = tool_message(query, found)                  # the `tool` message the model reads

The tool is offered upstream as a function `file_search(query)` (the reference server's form,
`peer-behaviour.md` §1.4.3). Every store of `vector_store_ids` is searched at once with the
tool's `filters`, `max_num_results` and `ranking_options`; the results of all stores are merged
by score. The model reads them in the reference server's template (§3.3): numbered chunks,
each ending in `cite as <|file-…|>`, and an instruction to cite with those markers, which the
answer's `message` item turns into `file_citation` annotations (`engine/items/citations.py`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from responsa.errors import InvalidRequest, ResponsaError
from responsa.vector_stores.filters import Predicate, compile_filter

if TYPE_CHECKING:
    from responsa.vector_stores.service import Found, VectorStores

log = logging.getLogger("responsa.tools")

TOOL_TYPE = "file_search"
NAME = "file_search"
TOOL_DEFINITION = {
    "type": "function",
    "function": {
        "name": NAME,
        "description": "Search files for relevant information",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "The search query"}},
            "required": ["query"],
        },
    },
}
RESULTS_INCLUDE = "file_search_call.results"
DEFAULT_MAX_RESULTS = 10
CITE = (
    "Cite sources immediately at the end of sentences before punctuation, using `<|file-id|>` format "
    "like 'This is a fact <|file-Cn3MSNn72ENTiiq11Qda4A|>.'. Do not add extra punctuation. Use only "
    "the file IDs provided, do not invent new ones."
)


def _bad(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid value for '{param}': {message}.", param=param)


@dataclass(frozen=True, slots=True)
class FileSearchSpec:
    """One `file_search` tool of a request, checked."""

    where: str
    vector_store_ids: tuple[str, ...]
    max_num_results: int
    keep: Predicate | None
    score_threshold: float
    mode: str  # "hybrid" (both weights), "vector" or "keyword" (one weight is 0)
    weights: tuple[float, float]  # (embedding, text) weights of the hybrid fusion

    @classmethod
    def parse(cls, tool: dict[str, Any], where: str, default_mode: str = "hybrid") -> FileSearchSpec:
        ids = tool.get("vector_store_ids")
        if not isinstance(ids, list) or not ids:
            raise InvalidRequest(
                f"Missing required parameter: '{where}.vector_store_ids' (a non-empty list of vector "
                "store ids).",
                param=f"{where}.vector_store_ids",
            )
        if not all(isinstance(i, str) and i for i in ids) or len(ids) > 10:
            raise _bad("expected 1 to 10 vector store ids (strings)", f"{where}.vector_store_ids")
        limit = tool.get("max_num_results", DEFAULT_MAX_RESULTS)
        if limit is None:
            limit = DEFAULT_MAX_RESULTS
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
            raise _bad("expected an integer from 1 to 50", f"{where}.max_num_results")
        filters = tool.get("filters")
        keep = compile_filter(filters, f"{where}.filters") if filters is not None else None
        ranking = tool.get("ranking_options") or {}
        if not isinstance(ranking, dict):
            raise _bad("expected an object", f"{where}.ranking_options")
        unknown = set(ranking) - {"ranker", "score_threshold", "hybrid_search"}
        if unknown:
            raise _bad(f"unknown field {sorted(unknown)[0]!r}", f"{where}.ranking_options")
        if ranking.get("ranker") not in (None, "auto", "none", "default-2024-11-15"):
            raise _bad("expected 'auto', 'none' or 'default-2024-11-15'", f"{where}.ranking_options.ranker")
        threshold = ranking.get("score_threshold", 0.0)
        if threshold is None:
            threshold = 0.0
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            raise _bad("expected a number from 0 to 1", f"{where}.ranking_options.score_threshold")
        mode, weights = default_mode, (1.0, 1.0)
        hybrid = ranking.get("hybrid_search")
        if hybrid is not None:
            weights = _weights(hybrid, f"{where}.ranking_options.hybrid_search")
            mode = "hybrid" if all(weights) else "vector" if weights[0] else "keyword"
        return cls(where, tuple(ids), limit, keep, float(threshold), mode, weights)

    async def check(self, searcher: VectorStores, owner: str | None) -> None:
        """Every store is the caller's and usable: 404 (or 400 when expired) naming the tool."""
        for store_id in self.vector_store_ids:
            try:
                await searcher.usable(store_id, owner)
            except ResponsaError as exc:
                exc.param = f"{self.where}.vector_store_ids"
                raise

    async def run(
        self, searcher: VectorStores, query: str, owner: str | None
    ) -> tuple[list[Found], str | None]:
        """The best chunks of all stores, and an error when no store could be searched."""

        async def one(store_id: str) -> list[Found]:
            return await searcher.find(
                store_id,
                [query],
                owner,
                keep=self.keep,
                mode=self.mode,
                limit=self.max_num_results,
                threshold=self.score_threshold,
                weights=self.weights,
            )

        outcomes = await asyncio.gather(*(one(s) for s in self.vector_store_ids), return_exceptions=True)
        found: list[Found] = []
        failures: list[str] = []
        for store_id, outcome in zip(self.vector_store_ids, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                reason = outcome.message if isinstance(outcome, ResponsaError) else repr(outcome)
                log.warning("file_search: vector store %s could not be searched: %s", store_id, reason)
                failures.append(f"{store_id}: {reason}")
            else:
                found.extend(outcome)
        if failures and len(failures) == len(self.vector_store_ids):
            return [], "file_search failed: " + "; ".join(failures)
        found.sort(key=lambda f: -f.score)
        return found[: self.max_num_results], None


def _weights(spec: Any, param: str) -> tuple[float, float]:
    if not isinstance(spec, dict) or set(spec) - {"embedding_weight", "text_weight"}:
        raise _bad("expected {'embedding_weight': number, 'text_weight': number}", param)
    weights: list[float] = []
    for key in ("embedding_weight", "text_weight"):
        value = spec.get(key, 1.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise _bad("expected a number of at least 0", f"{param}.{key}")
        weights.append(float(value))
    if not any(weights):
        raise _bad("at least one weight must be above 0", param)
    return weights[0], weights[1]


def tool_message(query: str, found: list[Found]) -> list[dict[str, Any]]:
    """What the model reads: the reference server's default templates (§3.3), one text part
    per chunk."""
    parts = [f"file_search tool found {len(found)} chunks:\nBEGIN of file_search tool results.\n"]
    for i, hit in enumerate(found, 1):
        attributes = f", attributes: {hit.attributes!r}" if hit.attributes else ""
        parts.append(
            f"[{i}] document_id: {hit.file_id}, score: {hit.score!r}{attributes} "
            f"cite as <|{hit.file_id}|>\n{hit.text}\n"
        )
    parts.append("END of file_search tool results.\n")
    parts.append(
        f'The above results were retrieved to help answer the user\'s query: "{query}". '
        f"Use them as supporting information only in answering this query. {CITE if found else ''}\n"
    )
    return [{"type": "text", "text": part} for part in parts]


def result_entries(found: list[Found]) -> list[dict[str, Any]]:
    """The `results` of a `file_search_call` item (OpenAI's shape)."""
    return [
        {
            "file_id": hit.file_id,
            "filename": hit.filename,
            "score": hit.score,
            "text": hit.text,
            "attributes": hit.attributes,
        }
        for hit in found
    ]


def echo(tool: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": TOOL_TYPE,
        "vector_store_ids": tool.get("vector_store_ids"),
        "filters": tool.get("filters"),
        "max_num_results": tool.get("max_num_results") or DEFAULT_MAX_RESULTS,
        "ranking_options": tool.get("ranking_options")
        or {"ranker": "auto", "score_threshold": 0.0, "hybrid_search": None},
    }
