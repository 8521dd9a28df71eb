#!/usr/bin/env bash
# The Python the ops commands (npm run backup / restore / import) run tools/ops with:
# .venv-ops, from the image's own lock (images/mlflow/requirements.lock, hash-checked, as the
# Dockerfile installs it), so the client is the server's MLflow and boto3. Idempotent: rebuilt
# only when the lock changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-ops"
LOCK="$ROOT/images/mlflow/requirements.lock"
STAMP="$VENV/.lock.sha256"
want="$(python3 --version)-$(sha256sum "$LOCK" | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
exec 9<"${BASH_SOURCE[0]}"
flock 9
echo "[ops-setup] building $VENV from images/mlflow/requirements.lock" >&2
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --require-hashes -r "$LOCK"
echo "$want" >"$STAMP"
