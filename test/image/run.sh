#!/usr/bin/env bash
# The image e2e test: installs what it needs (test/image/setup.sh), brings up a Docker engine
# (test/image/docker.sh: the running one, or one started here and stopped at exit), builds
# images/mlflow once for the run, then runs pytest on test/image with the image's venv: the
# entrypoint in the venv and the built image as a container, on the same checks.
# Exits with pytest's code; leaves no container and no engine it started behind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/test/image/setup.sh"
# shellcheck source=test/image/docker.sh
source "$ROOT/test/image/docker.sh"
docker_test_image
cd "$ROOT"
# No exec: the EXIT trap must run after pytest.
status=0
"$ROOT/.venv-image/bin/python" -m pytest test/image -p no:cacheprovider -ra --durations=12 "$@" || status=$?
exit "$status"
