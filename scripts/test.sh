#!/usr/bin/env bash
# One command from a fresh clone to a full test run: install with the test tools (and the Node
# clients), lint, type-check, then pytest. PostgreSQL runs too when RESPONSA_TEST_POSTGRES_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
# The Node clients the suite drives (Vercel AI SDK, Codex CLI): pinned in tests/clients/package-lock.json.
if command -v npm >/dev/null; then
  npm ci --prefix tests/clients --no-audit --no-fund --loglevel=error
else
  echo "npm not found: the AI SDK and Codex tests will be skipped" >&2
fi
.venv/bin/ruff check responsa tests bench
.venv/bin/ruff format --check responsa tests bench
.venv/bin/mypy
# Two workers (pytest-xdist), each taking whole test files: the servers the tests start spend most
# of their time waiting, so two at a time nearly halve the run on 2 cores (RESPONSA_TEST_WORKERS=0: one).
exec .venv/bin/python -m pytest -n "${RESPONSA_TEST_WORKERS:-2}" --dist loadfile "$@"
