#!/usr/bin/env bash
# `npm run test:metrics`: the real Prometheus scraping the real server under a bounded load
# (test_prometheus_scrape.py). Installs what it needs (test/metrics/setup.sh: test/image's venv
# with PostgreSQL and moto, and Debian's prometheus), then runs pytest with the image's venv.
# Needs no Docker: the server is the image's entrypoint in the venv, as test/image runs it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/metrics/setup.sh"
cd "$ROOT"
exec "$ROOT/.venv-image/bin/python" -m pytest test/metrics -p no:cacheprovider -ra "$@"
