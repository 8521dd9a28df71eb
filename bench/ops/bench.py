#!/usr/bin/env python3
"""`npm run bench:ops`: backup and restore times for a tracking store of N runs (10,000 by
default), and the import rate of an MLflow file store, on 127.0.0.1 only: one throwaway
PostgreSQL cluster (Debian's), moto's S3 server and the kit's entrypoint (the dev stack's env).

  backup/restore  N runs (5 params, 3 metrics x 10 steps, 3 tags each; one small artifact
                  every --artifact-every runs) written through MLflow's SQL store straight
                  into the source databases (the server's own code, without HTTP, to make the
                  set quickly); then tools/ops/kit_backup.py backup (pg_dump + artifacts
                  copied), restore into a new database pair and bucket, and a check that the
                  restored server answers the same run count.
  import          a file store of --import-runs runs (MLflow itself, 20 metric points, 3
                  params, an artifact each) imported by tools/ops/import_mlruns.py into the
                  server: runs per second.

Each beside its baseline, measured in the same run on the same machine:
  backup/restore  pg_dump and pg_restore of the same two databases alone (the same flags as the
                  tool, no artifacts, no checks): what the tool adds is the artifact copy and
                  its checks;
  import          MLflow's own client writing the same runs (same metrics, params, artifact)
                  into a fresh server of the same stack: the rate a team's own logging gets.
The load average (1, 5, 15 min) is printed at the start and the end: the figures are only
comparable under a similar load.

Prints the figures; writes nothing into the repository. Every loop is bounded by its count.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "test" / "image"))
from helpers import MotoServer, PostgresCluster, free_port, runtime_env, token, wait_until  # noqa: E402

ENTRYPOINT = ROOT / "images" / "mlflow" / "entrypoint.py"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


class Stack:
    def __init__(self, pg, s3, name, base):
        tracking, auth = f"{name}_tracking", f"{name}_auth"
        self.tracking_uri, self.auth_uri = pg.create_database(tracking), pg.create_database(auth)
        self.bucket = f"mlflow-kit-bench-{name}"
        self.env = runtime_env("dev", self.tracking_uri, self.auth_uri, s3, free_port(), token(24), token(48),
                               bucket=self.bucket)
        self.env["MLFLOW_DB_WAIT_SECONDS"] = "30"
        s3.ensure_bucket(self.bucket, self.env["AWS_DEFAULT_REGION"])
        self.s3 = s3
        self.log = open(Path(base) / f"{name}.log", "w")
        self.proc = None
        self.url = f"http://127.0.0.1:{self.env['PORT']}"

    def tool_env(self):
        return {**{k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_"))},
                "MLFLOW_KIT_TRACKING_DB_URI": self.tracking_uri, "MLFLOW_KIT_AUTH_DB_URI": self.auth_uri,
                "MLFLOW_KIT_ARTIFACTS_DESTINATION": self.env["MLFLOW_ARTIFACTS_DESTINATION"],
                "MLFLOW_S3_ENDPOINT_URL": self.s3.endpoint, "AWS_ACCESS_KEY_ID": self.s3.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.s3.secret_access_key,
                "AWS_DEFAULT_REGION": self.env["AWS_DEFAULT_REGION"], "MLFLOW_DISABLE_TELEMETRY": "true"}

    def start(self):
        import requests

        base = {k: os.environ[k] for k in ("PATH", "LANG") if k in os.environ}
        self.proc = subprocess.Popen([sys.executable, str(ENTRYPOINT)], env={**base, "HOME": tempfile.gettempdir(), **self.env},
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}; see {self.log.name}")
            try:
                return requests.get(f"{self.url}/health", timeout=2).text == "OK"
            except requests.RequestException:
                return False

        wait_until(up, 180, "server /health")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)

    def client(self):
        os.environ["MLFLOW_TRACKING_USERNAME"] = self.env["MLFLOW_ADMIN_USERNAME"]
        os.environ["MLFLOW_TRACKING_PASSWORD"] = self.env["MLFLOW_ADMIN_PASSWORD"]
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)


def fill(stack, runs, artifact_every, workdir):
    """N runs written with MLflow's own SQL store (the server's code path, no HTTP)."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(stack.tracking_uri.replace("postgresql://", "postgresql+psycopg2://", 1),
                            "mlflow-artifacts:/")
    exp = store.create_experiment("bench-backup")
    client = stack.client()
    art = Path(workdir) / "a.txt"
    art.write_text("x" * 2048)

    def one(i):
        run = store.create_run(exp, "bench", 1_700_000_000_000 + i, [RunTag("i", str(i))], f"run-{i}")
        rid = run.info.run_id
        store.log_batch(rid, metrics=[Metric(k, s * 0.1, 1_700_000_000_000 + s, s) for k in ("loss", "acc", "lr") for s in range(10)],
                        params=[Param(f"p{j}", str(j)) for j in range(5)], tags=[RunTag("t1", "a"), RunTag("t2", "b")])
        if artifact_every and i % artifact_every == 0:
            client.log_artifact(rid, str(art))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(runs)))
    return exp


def bench_backup(pg, s3, base, runs, artifact_every):
    src = Stack(pg, s3, "src", base).start()
    t0 = time.monotonic()
    fill(src, runs, artifact_every, base)
    fill_s = time.monotonic() - t0
    out = Path(base) / "backup"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, str(ROOT / "tools/ops/kit_backup.py"), "backup", "--out", str(out)],
                       env=src.tool_env(), capture_output=True, text=True, timeout=3600)
    backup_s = time.monotonic() - t0
    if r.returncode:
        raise RuntimeError(r.stderr)
    manifest = json.loads((out / "manifest.json").read_text())
    dst = Stack(pg, s3, "dst", base)
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, str(ROOT / "tools/ops/kit_backup.py"), "restore", "--from", str(out)],
                       env=dst.tool_env(), capture_output=True, text=True, timeout=3600)
    restore_s = time.monotonic() - t0
    if r.returncode:
        raise RuntimeError(r.stderr)
    dst.start()
    count = len(dst.client().search_runs([dst.client().get_experiment_by_name("bench-backup").experiment_id], max_results=50000))
    src.stop()
    dst.stop()
    baseline = pg_alone(pg, src, base)
    return {"runs": runs, "restored_runs_seen": count, "objects": len(manifest["artifacts"]["objects"]),
            "dump_bytes": sum(d["bytes"] for d in manifest["databases"].values()),
            "fill_seconds": round(fill_s, 1), "backup_seconds": round(backup_s, 1), "restore_seconds": round(restore_s, 1),
            "baseline_pg_dump_pg_restore": baseline}


def pg_alone(pg, src, base):
    """The baseline of backup/restore: pg_dump of the source pair and pg_restore into a new pair,
    with the flags tools/ops/kit_backup.py uses, and nothing else."""
    bin_dir = Path(os.environ["MLFLOW_KIT_PG_BIN"])
    connect = ["-h", str(pg.base), "-p", str(pg.port), "-U", "postgres"]
    dumps = []
    t0 = time.monotonic()
    for uri in (src.tracking_uri, src.auth_uri):
        name = uri.rsplit("/", 1)[1]
        dump = Path(base) / f"baseline-{name}.dump"
        subprocess.run([str(bin_dir / "pg_dump"), *connect, "--format=custom", "--no-owner",
                        "--no-privileges", "--file", str(dump), name],
                       check=True, capture_output=True, timeout=3600, stdin=subprocess.DEVNULL)
        dumps.append(dump)
    dump_s = time.monotonic() - t0
    targets = [f"baseline_{kind}" for kind in ("tracking", "auth")]
    for target in targets:
        pg.create_database(target)
    t0 = time.monotonic()
    for dump, target in zip(dumps, targets):
        subprocess.run([str(bin_dir / "pg_restore"), *connect, "--no-owner", "--no-privileges",
                        "--single-transaction", "--exit-on-error", "-d", target, str(dump)],
                       check=True, capture_output=True, timeout=3600, stdin=subprocess.DEVNULL)
    restore_s = time.monotonic() - t0
    return {"backup_seconds": round(dump_s, 1), "restore_seconds": round(restore_s, 1),
            "dump_bytes": sum(d.stat().st_size for d in dumps)}


# Writes N runs of the import's shape with MLflow's client: into a file store (argv[1] a
# directory) for the import, or into a server (argv[1] its URL) for the baseline.
WRITER = r'''
import os, sys
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
where = sys.argv[1]
c = MlflowClient(tracking_uri=where if where.startswith("http") else "file:" + where)
e = c.create_experiment("bench-import")
art = os.path.join(sys.argv[3], "import-artifact.txt")
open(art, "w").write("y" * 1024)
for i in range(int(sys.argv[2])):
    r = c.create_run(e, run_name=f"r{i}")
    c.log_batch(r.info.run_id, metrics=[Metric("m", s, 1_700_000_000_000 + s, s) for s in range(20)],
                params=[Param(f"p{j}", str(j)) for j in range(3)])
    c.log_artifact(r.info.run_id, art)
    c.set_terminated(r.info.run_id)
'''


def client_writes(pg, s3, base, runs):
    """The baseline of the import: MLflow's client logging the same runs into a fresh server."""
    target = Stack(pg, s3, "cli", base).start()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
           "MLFLOW_TRACKING_USERNAME": target.env["MLFLOW_ADMIN_USERNAME"],
           "MLFLOW_TRACKING_PASSWORD": target.env["MLFLOW_ADMIN_PASSWORD"]}
    t0 = time.monotonic()
    try:
        subprocess.run([sys.executable, "-c", WRITER, target.url, str(runs), str(base)], check=True,
                       timeout=3600, env=env, capture_output=True)
    finally:
        target.stop()
    seconds = time.monotonic() - t0
    return {"runs": runs, "seconds": round(seconds, 1), "runs_per_second": round(runs / seconds, 2)}


def bench_import(pg, s3, base, runs):
    store = Path(base) / "mlruns"
    subprocess.run([sys.executable, "-c", WRITER, str(store), str(runs), str(base)], check=True,
                   timeout=3600, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    target = Stack(pg, s3, "imp", base).start()
    env = {**target.tool_env(), "MLFLOW_TRACKING_URI": target.url,
           "MLFLOW_TRACKING_USERNAME": target.env["MLFLOW_ADMIN_USERNAME"],
           "MLFLOW_TRACKING_PASSWORD": target.env["MLFLOW_ADMIN_PASSWORD"]}
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, str(ROOT / "tools/ops/import_mlruns.py"), "--from", str(store)],
                       env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - t0
    target.stop()
    if r.returncode:
        raise RuntimeError(r.stderr[-3000:])
    return {"runs": runs, "seconds": round(seconds, 1), "runs_per_second": round(runs / seconds, 2),
            "tool": r.stdout.strip().splitlines()[-1]}


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def table(r):
    b, base, i, c = (r["backup_restore"], r["backup_restore"]["baseline_pg_dump_pg_restore"],
                     r["import"], r["import_baseline_client"])
    rows = [
        (f"backup/restore of {b['runs']} runs ({b['objects']} artifacts)", "kit_backup.py",
         "pg_dump/pg_restore alone"),
        ("  backup (s)", b["backup_seconds"], base["backup_seconds"]),
        ("  restore (s)", b["restore_seconds"], base["restore_seconds"]),
        ("  dump bytes", b["dump_bytes"], base["dump_bytes"]),
        (f"import of {i['runs']} runs", "import_mlruns.py", "MLflow client, same runs"),
        ("  seconds", i["seconds"], c["seconds"]),
        ("  runs/s", i["runs_per_second"], c["runs_per_second"]),
    ]
    lines = [f"{a:<48} {str(x):>18} {str(y):>26}" for a, x, y in rows]
    lines.append(f"load average (1/5/15 min) start {r['load_average_start']}, end "
                 f"{r['load_average_end']}, on {r['cores']} cores")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--artifact-every", type=int, default=10)
    parser.add_argument("--import-runs", type=int, default=500)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="mlflow-kit-bench-ops-")
    os.chmod(base, 0o755)
    pg = PostgresCluster(base)
    s3 = MotoServer(base)
    try:
        pg.start()
        s3.start()
        results = {"cores": os.cpu_count(), "load_average_start": loadavg()}
        results["backup_restore"] = bench_backup(pg, s3, base, args.runs, args.artifact_every)
        results["import"] = bench_import(pg, s3, base, args.import_runs)
        results["import_baseline_client"] = client_writes(pg, s3, base, args.import_runs)
        results["load_average_end"] = loadavg()
        print(json.dumps(results, indent=1))
        print(table(results))
    finally:
        s3.stop()
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
