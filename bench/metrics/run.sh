#!/usr/bin/env bash
# `npm run bench:metrics`: RSS and CPU of the image's server with and without MLFLOW_METRICS=on
# under the same load (bench/metrics/bench.py). Installs what it needs (test/image/setup.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/image/setup.sh" >&2
cd "$ROOT"
exec "$ROOT/.venv-image/bin/python" "$ROOT/bench/metrics/bench.py" "$@"
