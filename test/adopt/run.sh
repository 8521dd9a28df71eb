#!/usr/bin/env bash
# The adoption test: the upgrade gate (images/mlflow/schema_gate.py) with the real entrypoint on
# real Postgres. Installs what it needs (the image test's venv, test/image/setup.sh); idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/image/setup.sh"
cd "$ROOT"
exec "$ROOT/.venv-image/bin/python" -m pytest test/adopt -p no:cacheprovider -ra --durations=8 "$@"
