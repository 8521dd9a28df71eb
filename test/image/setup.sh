#!/usr/bin/env bash
# Installs what the image e2e test needs on a fresh Debian machine; idempotent and fast when
# nothing changed. Runs as root in CI with no stdin.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-image"
# The image's lock (what the Dockerfile installs) and the test's own tools.
REQS=("$ROOT/images/mlflow/requirements.lock" "$ROOT/test/image/requirements.txt")
STAMP="$VENV/.requirements.sha256"
export DEBIAN_FRONTEND=noninteractive

log() { echo "[image-setup] $*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

install_postgres() {
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    log "postgresql present"
    return
  fi
  log "installing postgresql from apt"
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends postgresql </dev/null
}

install_python_venv_support() {
  # Debian splits venv/ensurepip out of python3.
  if python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then return; fi
  log "installing python3-venv from apt"
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends python3-venv </dev/null
}

pip_check() {
  # mlflow is installed without its declared dependencies: pip check names the ones left out
  # (requirements.txt's `# not-installed:` line); anything else it says is a real problem.
  local left_out unexpected
  left_out="$(sed -n 's/^# not-installed: *//p' "$ROOT/images/mlflow/requirements.txt" | tr ' ' '|')"
  unexpected="$("$VENV/bin/python" -m pip check 2>&1 \
    | grep -vE "^mlflow [0-9.]+ requires (${left_out}), which is not installed\.$" \
    | grep -v '^No broken requirements found\.$' || true)"
  if [ -n "$unexpected" ]; then
    echo "$unexpected" >&2
    log "pip check failed beyond the packages requirements.txt leaves out"
    return 1
  fi
}

requirements_hash() {
  cat "${REQS[@]}" | sha256sum | cut -d' ' -f1
}

install_venv() {
  local want
  want="$(python3 --version)-$(requirements_hash)"
  if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    log "venv up to date ($VENV)"
    return
  fi
  # From scratch: a package dropped from the requirements must not linger and hide a gap.
  log "building venv $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  # The image's packages exactly as the Dockerfile installs them (hash-checked, --no-deps),
  # then the test tools beside them; pip check proves the tools did not move an image package,
  # and that the only requirements missing are the ones requirements.txt leaves out.
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --require-hashes -r "${REQS[0]}"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "${REQS[1]}"
  pip_check
  echo "$want" >"$STAMP"
}

# One run at a time (bench/image/run.sh calls this too): a second run would delete the venv
# under the first one's pip. The lock is on this script itself, so no lock file is left behind.
exec 9<"${BASH_SOURCE[0]}"
flock 9

install_postgres
install_python_venv_support
install_venv
log "ready"
