"""Fixtures of the image e2e test: a throwaway Postgres cluster, moto's S3 server and the real
entrypoint (images/mlflow/entrypoint.py), all on 127.0.0.1 with random free ports.

The entrypoint's env is the one the TypeScript runtime contract computes
(stacks/runtime-env.ts); the test only swaps in its throwaway endpoints and secrets.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import helpers
import pytest
import requests
from helpers import ROOT, MotoServer, PostgresCluster, free_port, token, wait_until

ENTRYPOINT = ROOT / "images" / "mlflow" / "entrypoint.py"

# Long enough for a cold start (imports, migrations) on a 2-core CI machine.
START_DEADLINE_SECONDS = 90


# --- Postgres and S3 (test/image/helpers.py) ----------------------------------------------


class Postgres(PostgresCluster):
    def __init__(self, base):
        super().__init__(base)
        self._counter = 0

    def database_pair(self, name):
        """A fresh tracking and auth database owned by the app role, as in production."""
        self._counter += 1
        tracking, auth = f"{name}_{self._counter}_tracking", f"{name}_{self._counter}_auth"
        return DatabasePair(self.create_database(tracking), self.create_database(auth), tracking, auth)


@dataclass
class DatabasePair:
    tracking_uri: str
    auth_uri: str
    tracking: str
    auth: str


@pytest.fixture(scope="session")
def postgres():
    base = tempfile.mkdtemp(prefix="mlflow-kit-pg-")
    os.chmod(base, 0o755)
    cluster = Postgres(base)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    try:
        yield server.start()
    finally:
        server.stop()


# --- the runtime env ----------------------------------------------------------------------


@dataclass
class Secrets:
    admin_password: str = field(default_factory=lambda: token(24))
    flask_secret_key: str = field(default_factory=lambda: token(48))


def runtime_env(pair, s3, port, creds):
    """The container env the TypeScript runtime contract computes for the dev stack."""
    return helpers.runtime_env("dev", pair.tracking_uri, pair.auth_uri, s3, port,
                               creds.admin_password, creds.flask_secret_key)


def secret_values(env):
    """Values of the env's secret variables (per contract.json), and the URIs' passwords."""
    contract = json.loads((ROOT / "images" / "mlflow" / "contract.json").read_text())
    found = {env[v["name"]] for v in contract["variables"] if v["secret"] and env.get(v["name"])}
    found |= {urlsplit(v).password for v in list(found) if "://" in v and urlsplit(v).password}
    return found


def assert_no_secret(text, env):
    leaked = [name for name, value in env.items() if value in secret_values(env) and value in text]
    assert not leaked, f"output shows the value of {leaked}"
    for value in secret_values(env):
        assert value not in text, "output shows a secret value"


@pytest.fixture(scope="session")
def make_env(postgres, s3):
    """make_env(name) -> (env, creds): the runtime env for a fresh database pair."""

    def make(name, port=None):
        creds = Secrets()
        env = runtime_env(postgres.database_pair(name), s3, port or free_port(), creds)
        s3.ensure_bucket(urlsplit(env["MLFLOW_ARTIFACTS_DESTINATION"]).netloc, env["AWS_DEFAULT_REGION"])
        env["MLFLOW_DB_WAIT_SECONDS"] = env.get("MLFLOW_DB_WAIT_SECONDS", "30")
        return env, creds

    return make


# --- the entrypoint -----------------------------------------------------------------------


def process_env(env):
    # Nothing of the test's own environment (MLFLOW_TRACKING_*, AWS_*) leaks into the server.
    base = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TZ") if k in os.environ}
    return {**base, "HOME": tempfile.gettempdir(), "PYTHONUNBUFFERED": "1", **env}


def run_entrypoint(env, timeout=120):
    """Runs the entrypoint to completion; returns (exit code, stdout+stderr)."""
    out = subprocess.run([sys.executable, str(ENTRYPOINT)], env=process_env(env),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=timeout)
    return out.returncode, out.stdout


class Server:
    """The entrypoint running as a server, its output in a log file."""

    def __init__(self, env, log_path):
        self.env = env
        self.log_path = Path(log_path)
        self.port = int(env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "a")
        self.proc = subprocess.Popen([sys.executable, str(ENTRYPOINT)], env=process_env(self.env),
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_until(self._healthy_or_dead, START_DEADLINE_SECONDS, f"/health on {self.url}")
        if self.proc.poll() is not None:
            pytest.fail(f"the server exited with {self.proc.returncode}:\n{self.output()}")
        return self

    def _healthy_or_dead(self):
        if self.proc.poll() is not None:
            return True
        try:
            return requests.get(f"{self.url}/health", timeout=2).text == "OK"
        except requests.RequestException:
            return False

    def stop(self):
        """SIGTERM, as a platform stops a container; returns the exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        self._remove_auth_config()
        return self.proc.returncode

    def _remove_auth_config(self):
        # The server keeps its rendered basic_auth.ini for its lifetime; a container's goes
        # with the container, the test's would stay behind in /dev/shm.
        for path in re.findall(r"auth config written to (\S+)", self.output()):
            shutil.rmtree(Path(path).parent, ignore_errors=True)

    def stop_gracefully(self):
        """Stops and checks uvicorn shut down cleanly (it re-raises SIGTERM once done)."""
        rc = self.stop()
        assert rc in (0, -signal.SIGTERM), f"exit {rc}:\n{self.output()[-3000:]}"
        assert "Application shutdown complete" in self.output().rsplit("Started server process", 1)[-1]

    def output(self):
        return self.log_path.read_text()


@pytest.fixture(scope="session")
def start_server(tmp_path_factory):
    """start_server(env) -> Server, healthy; stopped at the end of the session at the latest."""
    started = []

    def start(env):
        server = Server(env, tmp_path_factory.mktemp("server") / "server.log")
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
