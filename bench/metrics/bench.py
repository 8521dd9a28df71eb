#!/usr/bin/env python3
"""`npm run bench:metrics`: the scrape cost of MLFLOW_METRICS=on on the image's server.

One throwaway PostgreSQL and one moto S3 server serve the image's entrypoint twice, on fresh
databases each time, with the dev stack's env (test/metrics/metrics_server.py, the same server
the metrics test scrapes; 127.0.0.1 only): once with metrics off, once on with a scraper
reading /metrics every second (as Prometheus would). Each run gets the same bounded load:
CLIENTS threads, each logging REQUESTS metrics to its own run. Per run: RSS of the server's
process tree after start and its peak under load (psutil, every 100 ms), CPU seconds the tree
used during the load (user + system), requests/s and p50/p95; the machine's load average
before and after, since the machine is shared. Prints a table; writes nothing into the repository.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "test" / "metrics"))
from metrics_server import log_metrics, serve, stores  # noqa: E402

import psutil  # noqa: E402
import requests  # noqa: E402

BUCKET = "mlflow-kit-bench-metrics"
MIB = 1 << 20


def tree(proc):
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def rss(proc):
    total = 0
    for p in tree(proc):
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


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
    name = "bench_" + label.replace(" ", "_")
    with serve(workdir, postgres, s3, BUCKET, name, metrics=metrics) as srv:
        server = psutil.Process(srv.proc.pid)
        time.sleep(args.settle)
        idle = rss(server)
        exp = requests.post(f"{srv.url}/api/2.0/mlflow/experiments/create", json={"name": name},
                            auth=srv.auth, timeout=30).json()["experiment_id"]
        stop = threading.Event()
        peak, scrapes, scrape_cpu = [idle], [0], [0.0]

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss(server))
                time.sleep(0.1)

        def scrape():
            while not stop.wait(1.0):
                if requests.get(f"{srv.url}/metrics", auth=srv.auth, timeout=10).status_code == 200:
                    scrapes[0] += 1

        latencies, errors = [], [0]
        lock = threading.Lock()

        def client():
            _, lat, errs = log_metrics(srv.url, srv.auth, exp, args.requests)
            with lock:
                latencies.extend(lat)
                errors[0] += errs

        threads = [threading.Thread(target=sample, daemon=True)]
        if metrics:
            threads.append(threading.Thread(target=scrape, daemon=True))
        for t in threads:
            t.start()
        cpu0, t0 = cpu_seconds(server), time.perf_counter()
        clients = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(600)
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(server) - cpu0
        stop.set()
        for t in threads:
            t.join(5)
        if metrics:
            # What one scrape costs the idle server: CPU of SCRAPES back-to-back reads of /metrics.
            c0 = cpu_seconds(server)
            for _ in range(args.scrapes):
                requests.get(f"{srv.url}/metrics", auth=srv.auth, timeout=10).raise_for_status()
            scrape_cpu[0] = (cpu_seconds(server) - c0) / args.scrapes
        latencies.sort()
        return {
            "label": label, "idle_mib": idle / MIB, "peak_mib": peak[0] / MIB, "cpu_s": cpu,
            "cpu_ms_per_req": 1000 * cpu / max(1, len(latencies)), "rps": len(latencies) / wall,
            "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan"),
            "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
            "errors": errors[0], "requests": len(latencies), "scrapes": scrapes[0],
            "scrape_cpu_ms": 1000 * scrape_cpu[0],
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=150, help="log-metric requests per client")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds idle before the idle RSS")
    ap.add_argument("--scrapes", type=int, default=50, help="back-to-back scrapes timed after the load")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mlflow-kit-bench-metrics-"))
    os.chmod(workdir, 0o755)
    load_before = os.getloadavg()
    try:
        with stores(workdir, BUCKET) as (postgres, s3):
            rows = [run_one("metrics off", False, postgres, s3, args, workdir),
                    run_one("metrics on", True, postgres, s3, args, workdir)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    load_after = os.getloadavg()
    print(f"load: {args.clients} clients x {args.requests} log-metric requests; the 'on' run is scraped every 1 s")
    print(f"machine: {os.cpu_count()} CPUs, load average (1/5/15 min) before {' '.join(f'{v:.2f}' for v in load_before)}, "
          f"after {' '.join(f'{v:.2f}' for v in load_after)}")
    print(f"{'':12} {'idle RSS':>9} {'peak RSS':>9} {'CPU s':>7} {'CPU ms/req':>10} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'errors':>6} {'scrapes':>7}")
    for r in rows:
        print(f"{r['label']:12} {r['idle_mib']:8.1f}M {r['peak_mib']:8.1f}M {r['cpu_s']:7.2f} {r['cpu_ms_per_req']:10.2f} "
              f"{r['rps']:7.1f} {r['p50_ms']:7.1f} {r['p95_ms']:7.1f} {r['errors']:6d} {r['scrapes']:7d}")
    off, on = rows
    print(f"cost of metrics on: idle RSS {on['idle_mib'] - off['idle_mib']:+.1f} MiB, peak RSS {on['peak_mib'] - off['peak_mib']:+.1f} MiB, "
          f"CPU per request {on['cpu_ms_per_req'] - off['cpu_ms_per_req']:+.2f} ms, "
          f"one scrape of /metrics {on['scrape_cpu_ms']:.1f} ms CPU (mean of {args.scrapes})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
