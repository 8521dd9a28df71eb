"""Fixtures of the image e2e test: a throwaway Postgres cluster, moto's S3 server and the real
entrypoint (images/mlflow/entrypoint.py), all on 127.0.0.1 with random free ports.

The entrypoint's env is the one the TypeScript runtime contract computes
(stacks/runtime-env.ts); the test only swaps in its throwaway endpoints and secrets.
"""

import glob
import json
import os
import re
import shutil
import signal
import string
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from helpers import free_port, token, wait_until

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "images" / "mlflow" / "entrypoint.py"
RUNTIME_ENV_SCRIPT = ROOT / "stacks" / "runtime-env.ts"
TSX = ROOT / "node_modules" / ".bin" / "tsx"
APP_ROLE = "mlflow_app"

# Long enough for a cold start (imports, migrations) on a 2-core CI machine.
START_DEADLINE_SECONDS = 90








# --- Postgres -----------------------------------------------------------------------------


def postgres_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        pytest.fail("PostgreSQL server binaries not found: run test/image/setup.sh")
    return Path(found[-1]).parent


class Postgres:
    """A cluster in a temp dir. Superuser over the unix socket only (trust); TCP needs a
    password (scram), and the app connects as a non-superuser role owning its databases."""

    def __init__(self, base):
        self.base = Path(base)
        self.data = self.base / "data"
        self.port = free_port()
        self.bin = postgres_bin()
        self.app_password = token(24)
        self._as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self._counter = 0

    def _run(self, *cmd):
        subprocess.run([*self._as_owner, *cmd], check=True, capture_output=True, text=True,
                       cwd=self.base)

    def start(self):
        if self._as_owner:
            shutil.chown(self.base, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"),
                  "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off",
                  "start")
        self.sql(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{self.app_password}'")

    def stop(self):
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def sql(self, statement, database="postgres"):
        self._run(str(self.bin / "psql"), "-h", str(self.base), "-p", str(self.port),
                  "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt",
                  "-c", statement)

    def query(self, statement, database):
        out = subprocess.run(
            [*self._as_owner, str(self.bin / "psql"), "-h", str(self.base), "-p", str(self.port),
             "-U", "postgres", "-d", database, "-qAt", "-c", statement],
            check=True, capture_output=True, text=True, cwd=self.base)
        return out.stdout.strip()

    def uri(self, database, password=None):
        return (f"postgresql://{APP_ROLE}:{password or self.app_password}"
                f"@127.0.0.1:{self.port}/{database}")

    def database_pair(self, name):
        """A fresh tracking and auth database owned by the app role, as in production."""
        self._counter += 1
        tracking, auth = f"{name}_{self._counter}_tracking", f"{name}_{self._counter}_auth"
        for database in (tracking, auth):
            self.sql(f"CREATE DATABASE {database} OWNER {APP_ROLE}")
        return DatabasePair(self.uri(tracking), self.uri(auth), tracking, auth)


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
        try:
            cluster.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(base, ignore_errors=True)


# --- moto S3 ------------------------------------------------------------------------------


@dataclass
class S3:
    endpoint: str
    access_key_id: str = field(default_factory=lambda: "AKIA" + token(16, string.ascii_uppercase + string.digits))
    secret_access_key: str = field(default_factory=lambda: token(40))

    def client(self, region):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id=self.access_key_id,
                            aws_secret_access_key=self.secret_access_key)

    def ensure_bucket(self, destination, region):
        bucket = urlsplit(destination).netloc
        client = self.client(region)
        extra = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            client.create_bucket(Bucket=bucket, **extra)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        return bucket

    def keys(self, destination, region):
        parts = urlsplit(destination)
        prefix = parts.path.lstrip("/")
        pages = self.client(region).get_paginator("list_objects_v2").paginate(
            Bucket=parts.netloc, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{endpoint}/moto-api/", timeout=1).status_code == 200
        except requests.RequestException:
            return proc.poll() is not None

    try:
        wait_until(up, 30, "moto server")
        assert proc.poll() is None, "moto server exited"
        yield S3(endpoint)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        log.close()


# --- the runtime env ----------------------------------------------------------------------


@dataclass
class Secrets:
    admin_password: str = field(default_factory=lambda: token(24))
    flask_secret_key: str = field(default_factory=lambda: token(48))


def runtime_env(pair, s3, port, creds):
    """The container env the TypeScript runtime contract computes for the dev stack."""
    cmd = [str(TSX), str(RUNTIME_ENV_SCRIPT), "--stack", "dev",
           "--tracking-db-uri", pair.tracking_uri, "--auth-db-uri", pair.auth_uri,
           "--s3-endpoint", s3.endpoint, "--access-key-id", s3.access_key_id,
           "--secret-access-key", s3.secret_access_key,
           "--admin-password", creds.admin_password, "--flask-secret-key", creds.flask_secret_key,
           "--port", str(port)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"stacks/runtime-env.ts failed:\n{out.stderr}"
    env = json.loads(out.stdout)
    assert all(isinstance(v, str) for v in env.values()), env.keys()
    return env


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
        s3.ensure_bucket(env["MLFLOW_ARTIFACTS_DESTINATION"], env["AWS_DEFAULT_REGION"])
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
