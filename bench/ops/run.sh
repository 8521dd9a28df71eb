#!/usr/bin/env bash
# `npm run bench:ops`: backup and restore of 10,000 runs and the import rate (bench/ops/bench.py);
# PostgreSQL and the image venv from test/image/setup.sh. Arguments pass through (--runs N ...).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/image/setup.sh" >&2
export MLFLOW_KIT_PG_BIN="${MLFLOW_KIT_PG_BIN:-$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_dump | sort -V | tail -1)")}"
exec "$ROOT/.venv-image/bin/python" "$ROOT/bench/ops/bench.py" "$@"
