#!/usr/bin/env bash
# The slow installs of the later suites, on their own: the Pulumi CLI and its Node.js language
# host built from the Go module proxy (test/engine/install.sh, minutes of compile on a cold
# machine, so it starts first and runs beside the rest), PostgreSQL and the image test's venv
# (test/image/setup.sh), the server binaries of every PostgreSQL major
# (test/integration/setup.sh), chromium and prometheus from apt, a Docker engine, the local base image and the build of
# images/mlflow (test/image/docker.sh).
# test/run-all.sh starts this in the background while the type check and the unit tests use the
# CPU; every step is idempotent and locked, so the suites that run it again later find it done.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$ROOT/.cache"
engine_log="$(mktemp "$ROOT/.cache/engine-install.XXXXXX.log")"
start=$SECONDS
bash "$ROOT/test/engine/install.sh" >"$engine_log" 2>&1 &
engine=$!
engine_done() {
  local rc=0
  wait "$engine" || rc=$?
  echo "[prepare] test/engine/install.sh (exit $rc, $((SECONDS - start))s since the start of prepare):"
  cat "$engine_log"
  rm -f "$engine_log"
  return "$rc"
}
# An early failure still waits for the build (and shows its log) rather than leave it half done.
trap 'engine_done || true' EXIT

bash "$ROOT/test/image/setup.sh"
bash "$ROOT/test/adopt/setup.sh" # the MLflow 2.x venvs of test/adopt (pip, both at once)
bash "$ROOT/test/integration/setup.sh"
bash "$ROOT/test/browser/setup.sh" # chromium from apt, for test/browser
bash "$ROOT/test/metrics/setup.sh" # Debian's prometheus, for test/metrics
# shellcheck source=test/image/docker.sh
source "$ROOT/test/image/docker.sh"
trap 'docker_down; engine_done || true' EXIT
docker_up
docker_build_image "${MLFLOW_KIT_TEST_IMAGE:-mlflow-kit-server:test}"
echo "[prepare] the rest done after $((SECONDS - start))s; waiting for the Pulumi build"
trap docker_down EXIT
engine_done
