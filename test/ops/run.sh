#!/usr/bin/env bash
# The operations suite (backup and restore drill, import of a file store): PostgreSQL and the
# image venv from test/image/setup.sh (idempotent), then pytest on test/ops with that venv.
# Needs no Docker: the server is the kit's entrypoint in the venv, S3 is moto, all on 127.0.0.1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/image/setup.sh"
cd "$ROOT"
export MLFLOW_DISABLE_TELEMETRY=true
exec "$ROOT/.venv-image/bin/python" -m pytest test/ops -p no:cacheprovider -ra --durations=8 "$@"
