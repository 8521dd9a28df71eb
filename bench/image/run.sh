#!/usr/bin/env bash
# `npm run bench:image`: the image's server (images/mlflow/entrypoint.py, the dev stack's env)
# beside stock `mlflow server` on the same throwaway PostgreSQL and S3 emulator, in one run;
# and the image's size and site-packages before (mlflow's whole declared dependency set) and
# after (the --no-deps lock), both built in this run on a Docker engine (test/image/docker.sh:
# the running one, or one started here and stopped at exit).
# Installs what it needs (test/image/setup.sh), then runs bench/image/bench.py with the image's
# venv; arguments pass through (see `bash bench/image/run.sh --help`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/image/setup.sh" >&2
# shellcheck source=test/image/docker.sh
source "$ROOT/test/image/docker.sh"
trap docker_down EXIT
trap 'exit 130' INT TERM

export BENCH_IMAGE_AFTER=mlflow-kit-server:bench
export BENCH_IMAGE_BEFORE=mlflow-kit-server:bench-full-dependencies
docker_up
docker_build_image "$BENCH_IMAGE_AFTER" >&2
echo "[docker] building $BENCH_IMAGE_BEFORE (bench/image/Dockerfile.full-dependencies)" >&2
started=$(date +%s)
build_log="$(mktemp)"
if ! DOCKER_BUILDKIT=0 docker build --network host --build-arg "SERVER_IMAGE=$BENCH_IMAGE_AFTER" \
    -f "$ROOT/bench/image/Dockerfile.full-dependencies" -t "$BENCH_IMAGE_BEFORE" \
    "$ROOT/bench/image" >"$build_log" 2>&1; then
  tail -n 40 "$build_log" >&2
  rm -f "$build_log"
  exit 1
fi
rm -f "$build_log"
echo "[docker] built $BENCH_IMAGE_BEFORE in $(($(date +%s) - started)) s" >&2
cd "$ROOT"
status=0
"$ROOT/.venv-image/bin/python" "$ROOT/bench/image/bench.py" "$@" || status=$?
# Where the idle RSS and the start time go, by package (issue 18, item 3).
"$ROOT/.venv-image/bin/python" "$ROOT/bench/image/imports.py" || status=$?
exit "$status"
