#!/usr/bin/env bash
# `npm run bench:image`: the image's server (images/mlflow/entrypoint.py, the dev stack's env)
# beside stock `mlflow server` on the same throwaway PostgreSQL and S3 emulator, in one run.
# Installs what it needs (test/image/setup.sh), then runs bench/image/bench.py with the image's
# venv; arguments pass through (see `bash bench/image/run.sh --help`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/image/setup.sh" >&2
cd "$ROOT"
exec "$ROOT/.venv-image/bin/python" "$ROOT/bench/image/bench.py" "$@"
