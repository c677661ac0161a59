#!/usr/bin/env bash
# One command from a fresh clone to a full test run: install with the test tools, lint, type-check,
# then pytest. PostgreSQL runs too when RESPONSA_TEST_POSTGRES_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
.venv/bin/ruff check responsa tests bench
.venv/bin/ruff format --check responsa tests bench
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
