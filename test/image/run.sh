#!/usr/bin/env bash
# The image e2e test: installs what it needs (test/image/setup.sh), then runs pytest on
# test/image with the image's venv. Exits with pytest's code.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/image/setup.sh"
cd "$ROOT"
exec "$ROOT/.venv-image/bin/python" -m pytest test/image -p no:cacheprovider -ra "$@"
