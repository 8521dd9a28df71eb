#!/usr/bin/env python3
"""`npm run bench:metrics`: the scrape cost of MLFLOW_METRICS=on on the image's server.

One throwaway PostgreSQL and one moto S3 server (test/image/helpers.py, 127.0.0.1 only) serve
the image's entrypoint twice, on fresh databases each time, with the dev stack's env: once with
metrics off, once on with a scraper reading /metrics every second (as Prometheus would). Each
run gets the same bounded load: CLIENTS threads, each logging REQUESTS metrics to its own run.
Per run: RSS of the server's process tree after start and its peak under load (psutil, every
100 ms), CPU seconds the tree used during the load (user + system), requests/s and p95.
Prints a table; writes nothing into the repository.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "test" / "image"))
from helpers import MotoServer, PostgresCluster, free_port, runtime_env, token, wait_until  # noqa: E402

import psutil  # noqa: E402
import requests  # noqa: E402

ENTRYPOINT = ROOT / "images" / "mlflow" / "entrypoint.py"
BUCKET = "mlflow-kit-bench-metrics"
MIB = 1 << 20


def tree(proc):
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def rss(proc):
    return sum(p.memory_info().rss for p in tree(proc) if p.is_running())


def cpu_seconds(proc):
    total = 0.0
    for p in tree(proc):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def run_one(label, metrics, postgres, s3, args, workdir):
    n = label.replace(" ", "_")
    tracking = postgres.create_database(f"bench_{n}_tracking")
    auth = postgres.create_database(f"bench_{n}_auth")
    port = free_port()
    password = token(24)
    env = runtime_env("dev", tracking, auth, s3, port, password, token(48), bucket=BUCKET)
    if metrics:
        env["MLFLOW_METRICS"] = "on"
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    log = open(workdir / f"{n}.log", "w")
    proc = subprocess.Popen([sys.executable, str(ENTRYPOINT)], env={**base, **env}, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    auth_pair = (env["MLFLOW_ADMIN_USERNAME"], password)
    try:
        def healthy():
            if proc.poll() is not None:
                raise RuntimeError(f"{label}: server exited {proc.returncode}")
            try:
                return requests.get(f"{url}/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, 180, f"{label} /health", interval=0.5)
        server = psutil.Process(proc.pid)
        time.sleep(args.settle)
        idle = rss(server)
        s = requests.Session()
        s.auth = auth_pair
        exp = s.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": f"bench-{n}"}, timeout=30).json()["experiment_id"]
        stop = threading.Event()
        peak = [idle]
        scrapes = [0]

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss(server))
                time.sleep(0.1)

        def scrape():
            while not stop.wait(1.0):
                if requests.get(f"{url}/metrics", auth=auth_pair, timeout=10).status_code == 200:
                    scrapes[0] += 1

        latencies, errors = [], [0]
        lock = threading.Lock()

        def client(i):
            c = requests.Session()
            c.auth = auth_pair
            run_id = c.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": exp}, timeout=30).json()["run"]["info"]["run_id"]
            for step in range(args.requests):
                t0 = time.perf_counter()
                r = c.post(f"{url}/api/2.0/mlflow/runs/log-metric", timeout=30, json={
                    "run_id": run_id, "key": "m", "value": step, "timestamp": int(time.time() * 1000), "step": step})
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    errors[0] += r.status_code != 200

        threads = [threading.Thread(target=sample, daemon=True)]
        if metrics:
            threads.append(threading.Thread(target=scrape, daemon=True))
        for t in threads:
            t.start()
        cpu0, t0 = cpu_seconds(server), time.perf_counter()
        clients = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(600)
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(server) - cpu0
        stop.set()
        for t in threads:
            t.join(5)
        latencies.sort()
        return {
            "label": label, "idle_mib": idle / MIB, "peak_mib": peak[0] / MIB, "cpu_s": cpu,
            "cpu_ms_per_req": 1000 * cpu / max(1, len(latencies)), "rps": len(latencies) / wall,
            "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan"),
            "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
            "errors": errors[0], "requests": len(latencies), "scrapes": scrapes[0],
        }
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=150, help="log-metric requests per client")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds idle before the idle RSS")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mlflow-kit-bench-metrics-"))
    os.chmod(workdir, 0o755)
    pg_base = workdir / "pg"
    pg_base.mkdir()
    os.chmod(pg_base, 0o755)
    postgres, s3 = PostgresCluster(pg_base), MotoServer(workdir)
    try:
        postgres.start()
        s3.start()
        s3.ensure_bucket(BUCKET, "us-east-1")
        rows = [run_one("metrics off", False, postgres, s3, args, workdir),
                run_one("metrics on", True, postgres, s3, args, workdir)]
    finally:
        s3.stop()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"load: {args.clients} clients x {args.requests} log-metric requests; the 'on' run is scraped every 1 s")
    print(f"{'':12} {'idle RSS':>9} {'peak RSS':>9} {'CPU s':>7} {'CPU ms/req':>10} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'errors':>6} {'scrapes':>7}")
    for r in rows:
        print(f"{r['label']:12} {r['idle_mib']:8.1f}M {r['peak_mib']:8.1f}M {r['cpu_s']:7.2f} {r['cpu_ms_per_req']:10.2f} "
              f"{r['rps']:7.1f} {r['p50_ms']:7.1f} {r['p95_ms']:7.1f} {r['errors']:6d} {r['scrapes']:7d}")
    off, on = rows
    print(f"cost of metrics on: idle RSS {on['idle_mib'] - off['idle_mib']:+.1f} MiB, peak RSS {on['peak_mib'] - off['peak_mib']:+.1f} MiB, "
          f"CPU per request {on['cpu_ms_per_req'] - off['cpu_ms_per_req']:+.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
