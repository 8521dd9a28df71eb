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
import psutil
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
    """The entrypoint running as a server in the test's venv, its output in a log file."""

    kind = "venv"

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
        return health_ok(self.url)

    def main_process(self):
        """The server's main process (uvicorn, once the entrypoint exec'd it)."""
        return psutil.Process(self.proc.pid)

    def host_path(self, path):
        """Where a path of the server's filesystem is on this host."""
        return Path(path)

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
        assert_shutdown_complete(self.output())

    def output(self):
        return self.log_path.read_text()


def health_ok(url):
    try:
        return requests.get(f"{url}/health", timeout=2).text == "OK"
    except requests.RequestException:
        return False


def assert_shutdown_complete(output):
    assert "Application shutdown complete" in output.rsplit("Started server process", 1)[-1], \
        output[-3000:]


# --- the image as a container -------------------------------------------------------------

# Built by test/image/run.sh (test/image/docker.sh) for this run.
IMAGE = os.environ.get("MLFLOW_KIT_TEST_IMAGE")
# Every container carries the run's label, so run.sh removes whatever a test left.
RUN_LABEL = os.environ.get("KIT_RUN_LABEL", "mlflow-kit.test-run=pytest")
# docker stop's grace period, as platforms give (ECS and Render: SIGTERM, SIGKILL after ~30 s;
# the image is held to 10 s): SIGKILL after it shows as exit 137.
STOP_GRACE_SECONDS = 10


def docker(*args, timeout=120, check=True):
    out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL)
    if check and out.returncode != 0:
        raise RuntimeError(f"docker {args[0]} failed ({out.returncode}): {out.stderr.strip()}")
    return out


def docker_json(*args):
    return json.loads(docker(*args).stdout)


def write_env_file(env, directory):
    """The env as a --env-file (KEY=VALUE lines, taken literally), readable by this user only."""
    for name, value in env.items():
        assert "\n" not in value and "=" not in name, f"{name} cannot go in an env file"
    fd, path = tempfile.mkstemp(prefix="env-", dir=directory)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(f"{name}={value}\n" for name, value in env.items()))
    return Path(path)


def container_run_args(env_file, read_only=True):
    """How the tests run the image: host network (everything on 127.0.0.1), the env through a
    file, a read-only root with a tmpfs at /tmp (MLflow's temporary files; /dev/shm is the
    engine's own tmpfs), and this run's label."""
    args = ["--network", "host", "--env-file", str(env_file), "--label", RUN_LABEL]
    if read_only:
        args += ["--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=256m"]
    return args


class ContainerServer:
    """The built image as a container: the same interface as Server. Each start() is a new
    container on the same env (a restart, as a platform does); stop() keeps its logs."""

    kind = "container"

    def __init__(self, env, log_path, read_only=True):
        if not IMAGE:
            pytest.skip("no image built: run test/image/run.sh (MLFLOW_KIT_TEST_IMAGE unset)")
        self.env = env
        self.log_path = Path(log_path)
        self.port = int(env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.read_only = read_only
        self.container = None
        self.returncode = None

    def start(self):
        env_file = write_env_file(self.env, self.log_path.parent)
        try:
            self.container = docker("run", "-d", *container_run_args(env_file, self.read_only),
                                    IMAGE).stdout.strip()
        finally:
            env_file.unlink()  # docker read it at `run`
        self.returncode = None
        wait_until(self._healthy_or_dead, START_DEADLINE_SECONDS, f"/health on {self.url}")
        if not self.running():
            rc = self.stop()
            pytest.fail(f"the container exited with {rc}:\n{self.output()}")
        return self

    def inspect(self):
        return docker_json("inspect", self.container)[0]

    def running(self):
        return self.inspect()["State"]["Running"]

    def _healthy_or_dead(self):
        return not self.running() or health_ok(self.url)

    def main_process(self):
        # No user namespace: the container's PID 1 is a process of this host.
        return psutil.Process(self.inspect()["State"]["Pid"])

    def host_path(self, path):
        return Path(f"/proc/{self.main_process().pid}/root{path}")

    def stop(self):
        """`docker stop`: SIGTERM, SIGKILL after STOP_GRACE_SECONDS; returns the exit code and
        removes the container, its logs appended to log_path."""
        if self.container is None:
            return self.returncode
        try:
            docker("stop", "--time", str(STOP_GRACE_SECONDS), self.container, timeout=60)
            self.returncode = self.inspect()["State"]["ExitCode"]
            logs = docker("logs", self.container, check=False)
            with open(self.log_path, "a") as log:
                log.write(logs.stdout + logs.stderr)
        finally:
            docker("rm", "-f", self.container, check=False)
            self.container = None
        return self.returncode

    def stop_gracefully(self):
        """Stopped by SIGTERM within the grace period: uvicorn's exit (0, or 143 = re-raised
        SIGTERM), never docker's SIGKILL (137), and a complete shutdown in the log."""
        rc = self.stop()
        assert rc in (0, 128 + signal.SIGTERM), f"exit {rc}:\n{self.output()[-3000:]}"
        assert_shutdown_complete(self.output())

    def output(self):
        text = self.log_path.read_text() if self.log_path.exists() else ""
        if self.container:
            logs = docker("logs", self.container, check=False)
            text += logs.stdout + logs.stderr
        return text


SERVER_KINDS = {"venv": Server, "container": ContainerServer}


@pytest.fixture(scope="session")
def start_server(tmp_path_factory):
    """start_server(env, kind="venv") -> a healthy server of that kind; stopped at the end of
    the session at the latest."""
    started = []

    def start(env, kind="venv", **options):
        server = SERVER_KINDS[kind](env, tmp_path_factory.mktemp(kind) / "server.log", **options)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
