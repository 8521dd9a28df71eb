# Docker for the image tests and the benchmark; sourced by test/image/run.sh and
# bench/image/run.sh (bash, set -euo pipefail).
#
#   docker_up          a Docker engine that answers: the one running, or one started here (as
#                      root on Debian: apt's docker.io, then dockerd); installs debootstrap too
#   docker_build_image TAG [BASE]   images/mlflow built on BASE (default: the local base)
#   docker_down        removes this run's containers; stops the engine if this run started it
#                      and no other run still uses it. Call it from an EXIT trap.
#   docker_test_image  what a suite on the test image starts with: docker_down on exit, an
#                      engine, $MLFLOW_KIT_TEST_IMAGE (default mlflow-kit-server:test) built
#
# Runs share an engine: each holds a shared lock on $DOCKER_USERS_LOCK while it uses it; the
# run that releases last stops an engine one of them started (recorded in $KIT_DOCKERD_PID).
# The engine has no bridge and touches no iptables: every container here uses --network host.

KIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DOCKER_USERS_LOCK=/run/lock/mlflow-kit-docker.lock
mkdir -p /run/lock 2>/dev/null || true
KIT_DOCKERD_PID=/run/mlflow-kit-dockerd.pid
KIT_DOCKERD_LOG=/var/log/mlflow-kit-dockerd.log
# Label on every container a run starts, so docker_down finds what this run left.
export KIT_RUN_LABEL="mlflow-kit.test-run=$$-$(date +%s)"
# The stand-in for python:3.11-slim-bookworm that test/image/base-image.sh makes.
export KIT_LOCAL_BASE_IMAGE="mlflow-kit-local/python:3.11-bookworm"

dlog() { echo "[docker] $*" >&2; }

docker_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

docker_answers() {
  command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1
}

docker_install() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  [ "${#missing[@]}" -eq 0 ] && return
  dlog "installing ${missing[*]} from apt"
  docker_as_root apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive docker_as_root apt-get install -y -q --no-install-recommends \
    "${missing[@]}" </dev/null >/dev/null
}

docker_start_engine() {
  dlog "no Docker engine answers: starting dockerd (log: $KIT_DOCKERD_LOG)"
  # setsid: its own session, and none of this shell's fds (the users lock above all).
  docker_as_root setsid dockerd --iptables=false --ip-masq=false --bridge=none \
    --pidfile "$KIT_DOCKERD_PID" </dev/null >>"$KIT_DOCKERD_LOG" 2>&1 8>&- 9>&- &
  local i
  for i in $(seq 1 60); do
    docker_answers && { dlog "dockerd $(cat "$KIT_DOCKERD_PID") ready"; return; }
    sleep 1
  done
  dlog "dockerd did not answer within 60 s; last lines of its log:"
  tail -n 20 "$KIT_DOCKERD_LOG" >&2 || true
  return 1
}

docker_up() {
  exec 8>>"$DOCKER_USERS_LOCK"
  flock -x 8 # one run at a time installs and starts
  if ! docker_answers; then
    docker_install
    docker_start_engine
  else
    docker_install # debootstrap may still be missing
  fi
  flock -s 8 # from now on a user among others
}

docker_down() {
  local ids
  ids="$(docker ps -aq --filter "label=$KIT_RUN_LABEL" 2>/dev/null || true)"
  if [ -n "$ids" ]; then
    dlog "removing this run's containers"
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null 2>&1 || true
  fi
  { true >&8; } 2>/dev/null || return 0 # docker_up never ran
  if flock -x -n 8 && [ -s "$KIT_DOCKERD_PID" ]; then
    local pid i
    pid="$(cat "$KIT_DOCKERD_PID")"
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
      dlog "stopping the dockerd this test started ($pid)"
      docker_as_root kill -TERM "$pid"
      for i in $(seq 1 30); do [ -d "/proc/$pid" ] || break; sleep 1; done
      [ -d "/proc/$pid" ] && docker_as_root kill -KILL "$pid"
    fi
    rm -f "$KIT_DOCKERD_PID"
  fi
  exec 8>&-
}

docker_build_image() { # TAG [BASE_IMAGE]
  local tag="$1" base="${2:-$KIT_LOCAL_BASE_IMAGE}" started
  if [ "$base" = "$KIT_LOCAL_BASE_IMAGE" ]; then
    bash "$KIT_ROOT/test/image/base-image.sh"
  fi
  dlog "building $tag from images/mlflow on $base"
  started=$(date +%s)
  # --network host: the engine has no bridge. The build log goes to a file, shown on failure.
  local log
  log="$(mktemp)"
  if ! DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE_IMAGE=$base" -t "$tag" \
      "$KIT_ROOT/images/mlflow" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
  dlog "built $tag in $(($(date +%s) - started)) s, $(docker image inspect -f '{{.Size}}' "$tag" \
    | awk '{printf "%.0f MiB", $1 / 1048576}')"
}

docker_test_image() {
  trap docker_down EXIT
  trap 'exit 130' INT TERM
  export MLFLOW_KIT_TEST_IMAGE="${MLFLOW_KIT_TEST_IMAGE:-mlflow-kit-server:test}"
  docker_up
  docker_build_image "$MLFLOW_KIT_TEST_IMAGE"
}
