#!/usr/bin/env bash
# The browser test (npm run test:browser): installs what it needs (test/image/setup.sh for
# PostgreSQL and moto, test/browser/setup.sh for chromium), brings up a Docker engine and builds
# images/mlflow as test/image/run.sh does (test/image/docker.sh), then drives the UI in chromium
# (vitest.browser.config.ts). Screenshots and the server's log: .cache/browser/<stack>/.
# Leaves no container and no engine it started behind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/image/setup.sh"
bash "$ROOT/test/browser/setup.sh"
# shellcheck source=test/image/docker.sh
source "$ROOT/test/image/docker.sh"
docker_test_image
cd "$ROOT"
status=0
npx vitest run --config vitest.browser.config.ts "$@" || status=$?
echo "[browser] screenshots and the server's log: $ROOT/.cache/browser/"
exit "$status"
