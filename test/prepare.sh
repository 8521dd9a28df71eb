#!/usr/bin/env bash
# The slow installs of the later suites, on their own: PostgreSQL and the image test's venv
# (test/image/setup.sh), the server binaries of every PostgreSQL major (test/integration/setup.sh),
# a Docker engine, the local base image and the build of images/mlflow (test/image/docker.sh).
# test/run-all.sh starts this in the background while the type check and the unit tests use the
# CPU; every step is idempotent and locked, so the suites that run it again later find it done.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/test/image/setup.sh"
bash "$ROOT/test/integration/setup.sh"
bash "$ROOT/test/browser/setup.sh" # chromium from apt, for test/browser
# shellcheck source=test/image/docker.sh
source "$ROOT/test/image/docker.sh"
trap docker_down EXIT
docker_up
docker_build_image "${MLFLOW_KIT_TEST_IMAGE:-mlflow-kit-server:test}"
