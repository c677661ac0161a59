#!/usr/bin/env bash
# One command from a fresh clone to a running server: install, then `responsa serve`.
# Extra arguments go to `responsa serve` (e.g. --port 8321 --config responsa.yaml). The server runs
# in the directory you call this from, so relative paths (--config, db_url, recording dirs) mean
# what you typed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$ROOT" && bash scripts/setup.sh)
exec "$ROOT/.venv/bin/responsa" serve "$@"
