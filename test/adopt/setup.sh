#!/usr/bin/env bash
# The venvs of the MLflow 2.x servers the adoption test adopts, one per
# test/adopt/requirements-mlflow-<version>.txt (2.21.3 and 2.9.2, the versions the deployments the
# kit replaces ran). Each is built once per (python, requirements) and kept:
#   as root:  /var/cache/mlflow-kit/venvs/mlflow-<version>-<hash> ($MLFLOW_KIT_VENV_CACHE moves
#             it), shared by every checkout on the machine;
#   else:     <checkout>/.cache/venvs/mlflow-<version>-<hash>.
# <checkout>/.cache/venvs/mlflow-<version> links to the current one (test/adopt/conftest.py).
# A venv is built where it stays (a venv cannot move) and counts only once its stamp is written,
# so an interrupted build is redone. Idempotent, locked per venv; test/prepare.sh runs it in the
# background, test/adopt/run.sh again (then a no-op). Both versions build side by side.
set -euo pipefail
umask 022

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/test/adopt"
if [ "$(id -u)" -eq 0 ]; then
  CACHE="${MLFLOW_KIT_VENV_CACHE:-/var/cache/mlflow-kit/venvs}"
else
  CACHE="$ROOT/.cache/venvs"
fi
LINKS="$ROOT/.cache/venvs"
mkdir -p "$CACHE" "$LINKS"

log() { echo "[adopt-setup] $*"; }

build() { # requirements file
  local reqs="$1" version hash venv
  version="$(basename "$reqs" .txt)"
  version="${version#requirements-mlflow-}"
  hash="$( (python3 --version; cat "$reqs") | sha256sum | cut -c1-16)"
  venv="$CACHE/mlflow-$version-$hash"
  (
    exec 9>"$venv.lock"
    flock 9
    if [ -f "$venv/.complete" ]; then
      log "mlflow $version venv up to date ($venv)"
    else
      local start=$SECONDS
      log "building the mlflow $version venv ($venv)"
      rm -rf "$venv"
      python3 -m venv "$venv"
      "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$reqs" </dev/null
      "$venv/bin/python" -c "import mlflow, psycopg2, boto3; assert mlflow.__version__ == '$version', mlflow.__version__"
      touch "$venv/.complete"
      log "mlflow $version venv built in $((SECONDS - start))s"
    fi
  )
  ln -sfn "$venv" "$LINKS/mlflow-$version"
}

command -v flock >/dev/null || { log "flock (util-linux) is missing"; exit 1; }
pids=()
for reqs in "$HERE"/requirements-mlflow-*.txt; do
  build "$reqs" &
  pids+=("$!")
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit "$rc"
