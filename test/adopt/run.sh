#!/usr/bin/env bash
# The adoption test: the upgrade gate (images/mlflow/schema_gate.py) with the real entrypoint on
# real Postgres, and real MLflow 2.21.3 and 2.9.2 servers' databases and artifacts adopted by the
# kit's entrypoint (README: Adopting an MLflow 2.x server). Installs what it needs: the image
# test's venv (test/image/setup.sh) and the 2.x servers' own venvs (test/adopt/setup.sh, done in
# the background by test/prepare.sh under npm test); idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/image/setup.sh"
bash "$ROOT/test/adopt/setup.sh"
cd "$ROOT"
exec "$ROOT/.venv-image/bin/python" -m pytest test/adopt -p no:cacheprovider -ra --durations=8 "$@"
