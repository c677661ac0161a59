#!/usr/bin/env bash
# One command from a fresh clone to a running server: install, then `responsa serve`.
# Extra arguments go to `responsa serve` (e.g. --port 8321 --config responsa.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/responsa serve "$@"
