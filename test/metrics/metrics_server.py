"""The image's server with MLFLOW_METRICS on or off, shared by test/metrics and bench/metrics.

The server is the image's entrypoint (images/mlflow/entrypoint.py) in test/image's venv with
the env stacks/runtime-env.ts computes for the dev stack (MLflow's basic auth on), on a fresh
pair of databases of a throwaway PostgreSQL and a bucket of moto's S3 server (test/image's
helpers), all on 127.0.0.1. One place so the test and the benchmark measure the same server.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "image"))
from helpers import (  # noqa: E402  (test/image's shared fixtures)
    ROOT, MotoServer, PostgresCluster, free_port, runtime_env, token, wait_until)

ENTRYPOINT = ROOT / "images" / "mlflow" / "entrypoint.py"
START_DEADLINE_SECONDS = 180
STOP_SECONDS = 20
# Only what a process needs to run: none of the caller's MLFLOW_* or AWS_* leaks into the server.
PASSED_ENV = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")

__all__ = ["ROOT", "MotoServer", "PostgresCluster", "Server", "free_port", "log_metrics", "serve",
           "stores", "token", "wait_until"]


class Server:
    def __init__(self, url, port, auth, log, proc):
        self.url, self.port, self.auth, self.log, self.proc = url, port, auth, log, proc


@contextmanager
def stores(workdir, bucket):
    """A throwaway PostgreSQL and moto's S3 with `bucket`, under `workdir` (0755 for postgres)."""
    pg_base = Path(workdir) / "pg"
    pg_base.mkdir()
    os.chmod(pg_base, 0o755)
    postgres, s3 = PostgresCluster(pg_base), MotoServer(workdir)
    try:
        postgres.start()
        s3.start()
        s3.ensure_bucket(bucket, "us-east-1")
        yield postgres, s3
    finally:
        s3.stop()
        postgres.stop()


@contextmanager
def serve(workdir, postgres, s3, bucket, name, metrics=True):
    """The entrypoint as a server on fresh databases `<name>_tracking`/`<name>_auth`; yields a
    Server once /health answers, and stops its process group (TERM, then KILL) on exit."""
    tracking = postgres.create_database(f"{name}_tracking")
    auth = postgres.create_database(f"{name}_auth")
    port = free_port()
    admin_password = token(24)
    env = runtime_env("dev", tracking, auth, s3, port, admin_password, token(48), bucket=bucket)
    env["MLFLOW_METRICS"] = "on" if metrics else "off"
    base = {k: v for k, v in os.environ.items() if k in PASSED_ENV}
    log_path = Path(workdir) / f"{name}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, str(ENTRYPOINT)], env={**base, **env}, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        def healthy():
            if proc.poll() is not None:
                raise RuntimeError(f"{name}: server exited {proc.returncode}:\n" + log_path.read_text()[-4000:])
            try:
                return requests.get(f"{url}/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, START_DEADLINE_SECONDS, f"{name}: the server's /health", interval=0.5)
        yield Server(url, port, (env["MLFLOW_ADMIN_USERNAME"], admin_password), log_path, proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()


def log_metrics(url, auth, experiment_id, count, timeout=30):
    """One run with `count` log-metric requests (each writes the tracking store); returns
    (latencies in seconds, non-200 answers). The load both the test and the benchmark send."""
    s = requests.Session()
    s.auth = auth
    api = f"{url}/api/2.0/mlflow"
    run = s.post(f"{api}/runs/create", json={"experiment_id": experiment_id}, timeout=timeout)
    run.raise_for_status()
    run_id = run.json()["run"]["info"]["run_id"]
    latencies, errors = [], 0
    for step in range(count):
        t0 = time.perf_counter()
        r = s.post(f"{api}/runs/log-metric", timeout=timeout, json={
            "run_id": run_id, "key": "loss", "value": 1.0 / (step + 1),
            "timestamp": int(time.time() * 1000), "step": step})
        latencies.append(time.perf_counter() - t0)
        errors += r.status_code != 200
    return run_id, latencies, errors
