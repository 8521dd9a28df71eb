"""What the image e2e test (conftest.py) and its benchmark (bench/image) both run: a throwaway
PostgreSQL cluster, moto's S3 server, and the env the TypeScript runtime contract computes.
Everything listens on 127.0.0.1 only."""

import contextlib
import glob
import importlib.util
import json
import os
import secrets
import signal
import shutil
import socket
import string
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_ENV_SCRIPT = ROOT / "stacks" / "runtime-env.ts"
TSX = ROOT / "node_modules" / ".bin" / "tsx"
# The least-privilege role that owns MLflow's databases, as infra/database/types.ts names it.
APP_ROLE = "mlflow_app"


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, deadline_seconds, what, interval=0.2):
    """Polls predicate until it is true; TimeoutError naming `what` after the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not within {deadline_seconds} s")


def token(length=32, alphabet=string.ascii_letters + string.digits):
    """A random credential for a throwaway service."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


# --- PostgreSQL -----------------------------------------------------------------------------


def postgres_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found: run test/image/setup.sh")
    return Path(found[-1]).parent


class PostgresCluster:
    """A cluster in a temp dir. Superuser over the unix socket only (trust); TCP needs a
    password (scram), and the servers connect as APP_ROLE, a non-superuser owning its
    databases, as in production. initdb refuses root, so as root it runs as `postgres`."""

    def __init__(self, base):
        self.bin = postgres_bin()
        self.base = Path(base)
        self.data = self.base / "data"
        self.port = free_port()
        self.app_password = token(24)
        self._as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.started = False

    def _run(self, *cmd):
        return subprocess.run([*self._as_owner, *cmd], check=True, capture_output=True,
                              text=True, cwd=self.base, stdin=subprocess.DEVNULL)

    def start(self):
        if self._as_owner:
            shutil.chown(self.base, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8")
        self.started = True
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"),
                  "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off",
                  "start")
        self.sql(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{self.app_password}'")

    def stop(self):
        # fast first (clean shutdown); immediate if sessions hang on.
        if not self.started:
            return
        self.started = False
        for mode in ("fast", "immediate"):
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode,
                          "-w", "-t", "20", "stop")
                return
            except subprocess.CalledProcessError:
                continue

    def query(self, statement, database="postgres"):
        """Runs SQL as the superuser; the output, trimmed."""
        return self._run(str(self.bin / "psql"), "-h", str(self.base), "-p", str(self.port),
                         "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt",
                         "-c", statement).stdout.strip()

    sql = query

    def uri(self, database, password=None):
        return (f"postgresql://{APP_ROLE}:{password or self.app_password}"
                f"@127.0.0.1:{self.port}/{database}")

    def create_database(self, name):
        """A new database owned by APP_ROLE; its URI."""
        self.sql(f"CREATE DATABASE {name} OWNER {APP_ROLE}")
        return self.uri(name)

    def postmaster(self):
        import psutil

        return psutil.Process(int((self.data / "postmaster.pid").read_text().split()[0]))


# --- moto S3 --------------------------------------------------------------------------------


class MotoServer:
    """moto's S3 server in its own process group, with a key pair of the usual shape."""

    def __init__(self, logdir):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.access_key_id = "AKIA" + token(16, string.ascii_uppercase + string.digits)
        self.secret_access_key = token(40)
        self._log = open(Path(logdir) / "moto.log", "w")
        self.proc = None

    def start(self):
        import requests

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.proc.returncode}")
            try:
                return requests.get(f"{self.endpoint}/moto-api/", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until(up, 30, "moto server")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()

    def client(self, region):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id=self.access_key_id,
                            aws_secret_access_key=self.secret_access_key)

    def ensure_bucket(self, bucket, region):
        client = self.client(region)
        extra = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            client.create_bucket(Bucket=bucket, **extra)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        return bucket

    def keys(self, destination, region):
        """Object keys under an s3://bucket/prefix destination."""
        parts = urlsplit(destination)
        pages = self.client(region).get_paginator("list_objects_v2").paginate(
            Bucket=parts.netloc, Prefix=parts.path.lstrip("/"))
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


# --- the runtime env ------------------------------------------------------------------------


def runtime_env(stack, tracking_uri, auth_uri, s3, port, admin_password, flask_secret_key,
                bucket=None):
    """The container env infra/runtime-contract.ts computes for `stack`, with these local
    endpoints and credentials in place of the cloud ones (stacks/runtime-env.ts)."""
    cmd = [str(TSX), str(RUNTIME_ENV_SCRIPT), "--stack", stack,
           "--tracking-db-uri", tracking_uri, "--auth-db-uri", auth_uri,
           "--s3-endpoint", s3.endpoint, "--access-key-id", s3.access_key_id,
           "--secret-access-key", s3.secret_access_key, "--admin-password", admin_password,
           "--flask-secret-key", flask_secret_key, "--port", str(port)]
    if bucket:
        cmd += ["--bucket", bucket]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        # runtime-env.ts prints no value, only which argument was wrong.
        raise RuntimeError(f"stacks/runtime-env.ts failed:\n{out.stderr}")
    env = json.loads(out.stdout)
    if not all(isinstance(v, str) for v in env.values()):
        raise RuntimeError(f"stacks/runtime-env.ts printed non-string values for {sorted(env)}")
    return env


def image_conftest():
    """test/image/conftest.py as a module named image_conftest, loaded once per process: the
    suites that run on the image test's harness (test/edge, test/adopt, test/ops) take its
    fixtures (postgres, s3, make_env, start_server) from it and register them as their own."""
    module = sys.modules.get("image_conftest")
    if module is None:
        spec = importlib.util.spec_from_file_location("image_conftest", Path(__file__).with_name("conftest.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules["image_conftest"] = module
        spec.loader.exec_module(module)
    return module
