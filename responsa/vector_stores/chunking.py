"""Chunking: windows of `max_chunk_size_tokens` tokens, each starting `max - overlap` tokens
after the last, cut at the tokens' character offsets so a chunk is a slice of the text.

Tokens are counted with the embedding model's tokenizer when it is the embedded one (MiniLM's
WordPiece, `tokenizers`), else estimated as words and punctuation marks (about what a BPE
tokenizer counts for English prose)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Protocol

from responsa.errors import InvalidRequest

AUTO = {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}
WORDS = re.compile(r"\w+|[^\w\s]")


class Tokenizer(Protocol):
    def offsets(self, text: str) -> list[tuple[int, int]]:
        """The character span of each token of `text`."""
        ...


class EstimatedTokens:
    def offsets(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in WORDS.finditer(text)]


class WordPiece:
    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def offsets(self, text: str) -> list[tuple[int, int]]:
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return [tuple(span) for span in encoding.offsets]


@cache
def tokenizer_for(model: str) -> Tokenizer:
    if model.startswith("local/"):
        from responsa.providers.embedded_files import embedder_files

        found = embedder_files()
        if found is not None:
            from tokenizers import Tokenizer as HfTokenizer

            tokenizer = HfTokenizer.from_file(str(found[1]))
            tokenizer.no_padding()  # the file pads and truncates to the model's 128 tokens
            tokenizer.no_truncation()
            return WordPiece(tokenizer)
    return EstimatedTokens()


def resolve_strategy(strategy: Any) -> dict[str, Any]:
    """The strategy a file is chunked with (`auto` resolved to its static sizes), or a 400."""
    if strategy is None or strategy == {"type": "auto"}:
        return AUTO
    if not isinstance(strategy, dict) or strategy.get("type") not in ("auto", "static"):
        raise InvalidRequest(
            "Invalid value for 'chunking_strategy': expected {'type': 'auto'} or {'type': 'static', ...}.",
            param="chunking_strategy",
        )
    static = strategy.get("static")
    if strategy["type"] == "auto" or not isinstance(static, dict):
        if strategy["type"] == "auto" and len(strategy) == 1:
            return AUTO
        raise InvalidRequest(
            "Invalid value for 'chunking_strategy.static': expected max_chunk_size_tokens and "
            "chunk_overlap_tokens.",
            param="chunking_strategy.static",
        )
    size, overlap = static.get("max_chunk_size_tokens"), static.get("chunk_overlap_tokens")
    if not isinstance(size, int) or isinstance(size, bool) or not 100 <= size <= 4096:
        raise InvalidRequest(
            "Invalid value for 'chunking_strategy.static.max_chunk_size_tokens': expected an integer "
            "from 100 to 4096.",
            param="chunking_strategy.static.max_chunk_size_tokens",
        )
    if not isinstance(overlap, int) or isinstance(overlap, bool) or not 0 <= overlap <= size // 2:
        raise InvalidRequest(
            "Invalid value for 'chunking_strategy.static.chunk_overlap_tokens': expected an integer "
            "from 0 to half of max_chunk_size_tokens.",
            param="chunking_strategy.static.chunk_overlap_tokens",
        )
    return {"type": "static", "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}}


def chunk(text: str, strategy: dict[str, Any], tokenizer: Tokenizer) -> list[str]:
    size = int(strategy["static"]["max_chunk_size_tokens"])
    step = size - int(strategy["static"]["chunk_overlap_tokens"])
    spans = tokenizer.offsets(text)
    chunks: list[str] = []
    for start in range(0, max(len(spans), 1), step):
        window = spans[start : start + size]
        if not window:
            break
        piece = text[window[0][0] : window[-1][1]].strip()
        if piece:
            chunks.append(piece)
        if start + size >= len(spans):
            break
    return chunks
