#!/usr/bin/env bash
# The adoption test: the upgrade gate (images/mlflow/schema_gate.py) with the real entrypoint on
# real Postgres, and a real MLflow 2.x server's databases and artifacts adopted by the kit's
# entrypoint (README: Adopting an MLflow 2.x server). Installs what it needs: the image test's
# venv (test/image/setup.sh) and the 2.x server's own venv (.venv-mlflow2, from
# test/adopt/requirements-mlflow2.txt); idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/image/setup.sh"
VENV2="$ROOT/.venv-mlflow2"
REQS="$ROOT/test/adopt/requirements-mlflow2.txt"
STAMP="$VENV2/.requirements.sha256"
want="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "[adopt-setup] building $VENV2 ($(grep -v '^#' "$REQS" | tr '\n' ' '))"
  rm -rf "$VENV2"
  python3 -m venv "$VENV2"
  "$VENV2/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
  echo "$want" >"$STAMP"
fi
cd "$ROOT"
exec "$ROOT/.venv-image/bin/python" -m pytest test/adopt -p no:cacheprovider -ra --durations=8 "$@"
