#!/usr/bin/env python3
"""`npm run bench:image`: the mlflow-kit image's server beside stock `mlflow server`.

In one run, on 127.0.0.1 only (a private network namespace where the machine allows one:
the image's entrypoint binds 0.0.0.0), one throwaway PostgreSQL cluster and one moto S3
server serve two MLflow servers, measured one after the other, each on its own empty
databases:

  mlflow-kit image     images/mlflow/entrypoint.py with the env stacks/runtime-env.ts computes
                       for the dev stack (basic auth, MLFLOW_WORKERS from the stack, 1), its
                       endpoints pointed at the local services;
  stock mlflow server  `mlflow server` of the same MLflow with its defaults (no auth app, its
                       default workers and job runner) on the same Postgres and S3.

Per server: seconds from process start to the first /health 200; RSS of the whole process
tree (the process and all its descendants, summed) idle after a settle, and its peak sampled
every 100 ms under load; the load is N clients (16), each logging one metric per request
(POST /api/2.0/mlflow/runs/log-metric) to its own run for BENCH_SECONDS (30) from a separate
client process; requests/s, requests/s per busy server core (the server tree's CPU), p50/p95
latency, errors (anything but 200), then every run's metric history is read back and compared
with the steps the clients got a 200 for. The image's server takes the load twice: as the
admin, then as a non-admin user with an EDIT grant on the experiment (MLflow checks that
permission on every request; it skips the check for admins).

Then issue 18's server figures, each beside its target and stock's from this run, and the
machine's load average at the start and the end (the figures are only as quiet as the machine).

Also, from the images bench/image/run.sh built for the run: image size (docker image inspect)
and site-packages of the image as it ships and of the same with mlflow's whole declared
dependency set (the image before it installed with --no-deps), side by side.

Prints the tables and the image's budget verdict; writes nothing into the repository.
Exit code 0 unless the run itself broke.
"""

import argparse
import contextlib
import glob
import importlib.metadata
import json
import os
import re
import resource
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
from helpers import (  # noqa: E402  (shared with the e2e test)
    MotoServer, PostgresCluster, free_port, runtime_env, token, wait_until)
ENTRYPOINT = ROOT / "images" / "mlflow" / "entrypoint.py"
STACK = "dev"
BUCKET = "mlflow-kit-bench-artifacts"
METRIC_KEY = "bench"
BUDGET_MIB = 350
START_DEADLINE_SECONDS = 120
MIB = 1 << 20
NETNS_MARK = "BENCH_IMAGE_IN_NETNS"
SIZES_ENV = "BENCH_IMAGE_SIZES"
STARTED_ENV = "BENCH_IMAGE_STARTED"
URI_PASSWORD = re.compile(r"(://[^/\s:@]*:)[^@\s]+(@)")


def log(message):
    print(f"[bench:image] {message}", file=sys.stderr, flush=True)


def mask(text):
    return URI_PASSWORD.sub(r"\1***\2", text)








# --- installed size -----------------------------------------------------------------------


def tree_size_mib(path):
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total / MIB


def site_packages(venv):
    found = glob.glob(str(Path(venv) / "lib" / "python3*" / "site-packages"))
    return Path(found[0]) if found else None


# The images bench/image/run.sh built for this run: the image as it ships, and the same with
# mlflow's whole declared dependency set added (Dockerfile.full-dependencies), i.e. before.
IMAGES = {"after": os.environ.get("BENCH_IMAGE_AFTER"),
          "before": os.environ.get("BENCH_IMAGE_BEFORE")}
# Apparent sizes of every file under the image's site-packages, summed (as tree_size_mib).
SITE_PACKAGES_PROBE = (
    "import os, sysconfig\n"
    "root = sysconfig.get_paths()['purelib']\n"
    "print(root, sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(root) for f in fs))")


def image_sizes(tag):
    """(image size, site-packages size), MiB, of a built image; the image runs with no network."""
    size = int(subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", tag],
                              capture_output=True, text=True, check=True, timeout=60).stdout)
    probe = subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint",
                            "python", tag, "-c", SITE_PACKAGES_PROBE],
                           capture_output=True, text=True, check=True, timeout=120)
    root, total = probe.stdout.split()
    return {"image_mib": size / MIB, "site_packages_mib": int(total) / MIB, "site_packages": root}


def install_sizes():
    sizes = {"shared_mib": None, "images": {}, "image_note": None}
    shared = site_packages(Path(sys.prefix))
    if shared:
        sizes["shared_mib"] = tree_size_mib(shared)
    if not all(IMAGES.values()):
        sizes["image_note"] = "not measured: run through bench/image/run.sh, which builds the images"
        return sizes
    try:
        for key, tag in IMAGES.items():
            sizes["images"][key] = {"tag": tag, **image_sizes(tag)}
    except (subprocess.SubprocessError, OSError, ValueError) as error:
        sizes["image_note"] = f"not measured: {error}"
    return sizes


def image_table(sizes):
    """Image size and site-packages, before (full dependencies) and after, side by side."""
    before, after = sizes["images"].get("before"), sizes["images"].get("after")
    if not (before and after):
        return f"image sizes: {sizes.get('image_note') or 'not measured'}"
    rows = [("image size (docker image inspect)", "image_mib"),
            ("site-packages in the image", "site_packages_mib")]
    header = ("image", "before: mlflow's full dependencies", "after: --no-deps lock", "change")
    body = [(name, f"{before[key]:.0f} MiB", f"{after[key]:.0f} MiB",
             f"{after[key] - before[key]:+.0f} MiB ({100 * (after[key] / before[key] - 1):+.0f}%)")
            for name, key in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(4)]
    out = [" | ".join(h.ljust(w) for h, w in zip(header, widths)),
           " | ".join("-" * w for w in widths)]
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in body]
    out.append(f"images: before {before['tag']}, after {after['tag']}; site-packages = "
               f"{after['site_packages']}, apparent file sizes summed")
    return "\n".join(out)


# --- private network namespace -------------------------------------------------------------


def reexec_in_private_netns(argv):
    """Re-runs this script in a new network namespace with only loopback (as root, where
    unshare works), so nothing started here is reachable from outside even if it binds
    0.0.0.0. Returns only if that is not possible."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return "needs root, unshare and ip"
    probe = subprocess.run(["unshare", "--net", "--", "ip", "link", "set", "lo", "up"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare --net failed: {probe.stderr.strip()}"
    os.environ[NETNS_MARK] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp("unshare", ["unshare", "--net", "--", "sh", "-c",
                          'ip link set lo up && exec "$0" "$@"',
                          sys.executable, str(Path(__file__).resolve()), *argv])
    return None  # not reached


# --- the two servers -------------------------------------------------------------------------


def base_env(home):
    # Nothing of the caller's environment (MLFLOW_*, AWS_*) leaks into a server.
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TZ") if k in os.environ}
    return {**env, "HOME": str(home), "PYTHONUNBUFFERED": "1"}


def kit_runtime_env(tracking_uri, auth_uri, s3, port, admin_password, flask_secret_key):
    """The container env infra/runtime-contract.ts computes for the dev stack."""
    env = runtime_env(STACK, tracking_uri, auth_uri, s3, port, admin_password, flask_secret_key,
                      bucket=BUCKET)
    env.setdefault("MLFLOW_DB_WAIT_SECONDS", "30")
    return env


class ServerSpec:
    def __init__(self, label, cmd, env, port, auth, notes):
        self.label = label
        self.cmd = cmd
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.auth = auth
        self.notes = notes


def kit_spec(pg, s3, home, entrypoint, workers=None):
    entrypoint = Path(entrypoint).resolve()  # the server runs in a temp dir
    port = free_port()
    admin_password, flask_key = token(24), token(48)
    env = kit_runtime_env(pg.create_database("kit_tracking"), pg.create_database("kit_auth"), s3, port,
                          admin_password, flask_key)
    if workers:
        env["MLFLOW_WORKERS"] = str(workers)
    auth = (env["MLFLOW_ADMIN_USERNAME"], admin_password) if env.get(
        "MLFLOW_AUTH_MODE", "basic") == "basic" else None
    notes = (f"env of stacks/runtime-env.ts --stack {STACK}: auth {env.get('MLFLOW_AUTH_MODE')}, "
             f"MLFLOW_WORKERS={env.get('MLFLOW_WORKERS', '(contract default)')}, "
             f"MLFLOW_MIGRATE={env.get('MLFLOW_MIGRATE', '(contract default)')}, "
             f"artifacts {env['MLFLOW_ARTIFACTS_DESTINATION']}")
    if entrypoint != ENTRYPOINT:
        notes += f"; CANDIDATE entrypoint {entrypoint}"
    return ServerSpec("mlflow-kit image", [sys.executable, str(entrypoint)],
                      {**base_env(home), **env}, port, auth, notes)


def stock_spec(pg, s3, home, region):
    port = free_port()
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which neither venv has.
    tracking = pg.create_database("stock_tracking").replace("postgresql://", "postgresql+psycopg2://")
    destination = f"s3://{BUCKET}/stock-mlflow"
    cmd = [str(Path(sys.executable).parent / "mlflow"), "server",
           "--backend-store-uri", tracking, "--artifacts-destination", destination,
           "--host", "127.0.0.1", "--port", str(port)]
    env = {**base_env(home),
           "AWS_ACCESS_KEY_ID": s3.access_key_id, "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
           "AWS_DEFAULT_REGION": region, "MLFLOW_S3_ENDPOINT_URL": s3.endpoint,
           # The only setting beside the flags: no usage telemetry calls from a benchmark
           # (the image sets the same).
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    notes = (f"mlflow server --backend-store-uri postgresql+psycopg2://... "
             f"--artifacts-destination {destination} --host 127.0.0.1 --port {port}; "
             "MLflow's defaults otherwise (no auth app, 4 uvicorn workers, job runner on)")
    return ServerSpec("stock mlflow server", cmd, env, port, None, notes)


# --- process tree sampling -------------------------------------------------------------------


def short_cmd(proc):
    import psutil

    try:
        argv = proc.cmdline()
    except psutil.Error:
        return "?"
    text = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv))
    text = re.sub(r"--allowed-hosts \S+", "--allowed-hosts ...", text)
    text = re.sub(r"--log-config \S+", "--log-config ...", text)
    text = re.sub(r"-c from multiprocessing\.(\S+) import (\w+); \S+",
                  r"multiprocessing.\1.\2(...)", text)
    text = mask(text)
    return text if len(text) <= 96 else text[:93] + "..."


def tree(root):
    import psutil

    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_rss(procs):
    import psutil

    total, rows = 0, []
    for proc in procs:
        try:
            rss = proc.memory_info().rss
        except psutil.Error:
            continue
        total += rss
        rows.append((proc, rss))
    return total, rows


def private_dirs(procs):
    """Per-server directories named in the servers' environments (basic_auth.ini's, huey's)."""
    import psutil

    found = set()
    for proc in procs:
        try:
            env = proc.environ()
        except psutil.Error:
            continue
        if env.get("MLFLOW_AUTH_CONFIG_PATH"):
            parent = Path(env["MLFLOW_AUTH_CONFIG_PATH"]).parent
            if parent.name.startswith("mlflow-auth-"):
                found.add(parent)
        if env.get("_MLFLOW_HUEY_STORAGE_PATH"):
            found.add(Path(env["_MLFLOW_HUEY_STORAGE_PATH"]))
    return found


def all_processes_cpu():
    """CPU seconds per pid of every process on the machine. (Per process, not /proc/stat's
    machine totals: on this kind of VM those run well ahead of what the processes add up to.)"""
    import psutil

    return tree_cpu(psutil.process_iter())


def tree_cpu(procs):
    """CPU seconds (user + system) per pid."""
    import psutil

    cpu = {}
    for proc in procs:
        try:
            times = proc.cpu_times()
            cpu[proc.pid] = times.user + times.system
        except psutil.Error:
            pass
    return cpu


class TreeSampler(threading.Thread):
    """Samples the whole-tree RSS of a process every `interval` seconds."""

    def __init__(self, root, interval=0.1):
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.seen = {}
        self.private_dirs = set()
        self.latest = (0, 0)  # (total RSS, process count)
        self.peak_life = 0
        self.peak_window = 0
        self.peak_window_rows = []
        self.in_window = False
        self.samples_in_window = 0
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def run(self):
        while not self._halt.is_set():
            procs = tree(self.root)
            for proc in procs:
                if proc.pid not in self.seen:
                    self.seen[proc.pid] = proc
                    self.private_dirs |= private_dirs([proc])
            total, rows = tree_rss(procs)
            with self._lock:
                self.latest = (total, len(rows))
                self.peak_life = max(self.peak_life, total)
                if self.in_window:
                    self.samples_in_window += 1
                    if total > self.peak_window:
                        self.peak_window = total
                        self.peak_window_rows = [(p.pid, rss, short_cmd(p)) for p, rss in rows]
            self._halt.wait(self.interval)

    def window(self, active):
        """Starts (resetting the window's peak) or ends a load window."""
        with self._lock:
            if active:
                self.peak_window, self.peak_window_rows, self.samples_in_window = 0, [], 0
            self.in_window = active

    def take_window_peak(self):
        with self._lock:
            return self.peak_window

    def stop(self):
        self._halt.set()
        self.join(5)


# --- load clients (a separate process) -------------------------------------------------------


def client_worker():
    """`bench.py --client-worker`: one client process, one thread and Session per run.

    Reads its config as one JSON line on stdin, prints "ready", starts on a "go" line and
    prints its results as one JSON line."""
    import requests

    cfg = json.loads(sys.stdin.readline())
    endpoint = cfg["url"] + "/api/2.0/mlflow/runs/log-metric"
    go = threading.Event()
    results = [None] * len(cfg["runs"])

    def client(index, run_id):
        session = requests.Session()
        if cfg["auth"]:
            session.auth = tuple(cfg["auth"])
        go.wait()
        deadline = time.monotonic() + cfg["seconds"]
        step, acked, latencies, errors, sample_error = 0, [], [], {}, None
        while time.monotonic() < deadline:
            step += 1
            body = {"run_id": run_id, "key": cfg["key"], "value": float(step),
                    "timestamp": int(time.time() * 1000), "step": step}
            started = time.perf_counter()
            try:
                response = session.post(endpoint, json=body, timeout=cfg["timeout"])
                status = response.status_code
                if status != 200 and sample_error is None:
                    sample_error = f"{status}: {response.text[:200]}"
            except requests.RequestException as error:
                status = type(error).__name__
                sample_error = sample_error or f"{status}: {str(error)[:200]}"
            latencies.append((time.perf_counter() - started) * 1000)
            if status == 200:
                acked.append(step)
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1
        results[index] = {"run_id": run_id, "acked_steps": acked, "latencies_ms": latencies,
                          "errors": errors, "sample_error": sample_error}

    threads = [threading.Thread(target=client, args=(i, run_id), daemon=True)
               for i, run_id in enumerate(cfg["runs"])]
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    go.set()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    print(json.dumps({"clients": results, "wall_s": wall, "cpu_s": cpu}), flush=True)
    return 0


class ClientProcesses:
    def __init__(self, spec, run_ids, procs, seconds, auth):
        self.procs = []
        self.spec = spec
        self.auth = auth
        self.groups = [run_ids[i::procs] for i in range(procs)]
        self.seconds = seconds

    def start(self):
        for runs in self.groups:
            proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--client-worker"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                start_new_session=True)
            self.procs.append(proc)
            cfg = {"url": self.spec.url, "auth": self.auth, "runs": runs,
                   "seconds": self.seconds, "timeout": 30, "key": METRIC_KEY}
            proc.stdin.write(json.dumps(cfg) + "\n")
            proc.stdin.flush()
        for proc in self.procs:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a client process did not start")

    def go(self):
        for proc in self.procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()

    def results(self):
        out = []
        for proc in self.procs:
            line = proc.stdout.readline()
            proc.wait(30)
            if proc.returncode != 0 or not line:
                raise RuntimeError(f"a client process failed (exit {proc.returncode})")
            out.append(json.loads(line))
        return out

    def kill(self):
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


# --- one server's measurement ----------------------------------------------------------------


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


class Measurement:
    """Starts one server, measures it and stops it (also on errors and Ctrl-C)."""

    def __init__(self, spec, args, workdir, postmaster):
        self.spec = spec
        self.args = args
        self.workdir = workdir
        self.postmaster = postmaster
        self.log_path = Path(workdir) / f"{spec.label.split()[0]}-server.log"
        self.proc = None
        self.sampler = None
        self.result = {"label": spec.label}

    def api(self, session, method, path, **kwargs):
        response = session.request(method, f"{self.spec.url}/api/2.0/mlflow/{path}",
                                   timeout=30, **kwargs)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def run(self):
        import psutil
        import requests

        spec, args, res = self.spec, self.args, self.result
        log(f"{spec.label}: starting ({spec.notes})")
        self._logfile = open(self.log_path, "w")
        started = time.monotonic()
        self.proc = subprocess.Popen(spec.cmd, env=spec.env, cwd=self.workdir,
                                     stdout=self._logfile, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        root = psutil.Process(self.proc.pid)
        self.sampler = TreeSampler(root)
        self.sampler.start()

        def healthy():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{spec.label} exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                return requests.get(f"{spec.url}/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, START_DEADLINE_SECONDS, f"/health 200 from {spec.label}", 0.05)
        res["healthy_s"] = time.monotonic() - started
        log(f"{spec.label}: healthy after {res['healthy_s']:.1f} s; settling {args.settle} s")

        time.sleep(args.settle)
        idle = []
        for _ in range(5):
            idle.append(self.sampler.latest)
            time.sleep(0.1)
        res["idle_rss"] = statistics.median(total for total, _ in idle)
        res["idle_procs"] = max(count for _, count in idle)
        res["idle_rows"] = [(p.pid, rss, short_cmd(p)) for p, rss in tree_rss(tree(root))[1]]

        session = requests.Session()
        if spec.auth:
            session.auth = spec.auth
        experiment = self.api(session, "POST", "experiments/create",
                              json={"name": f"bench-{spec.label.split()[0]}"})["experiment_id"]
        res.update(self.load_phase(session, experiment, spec.auth, "client"))
        if spec.auth:
            # The same load from a user who is not an admin: MLflow checks its permission on
            # the run's experiment (an EDIT grant) on every request, which it skips for admins.
            user = ("bench-editor", token(24))
            self.api(session, "POST", "users/create",
                     json={"username": user[0], "password": user[1]})
            response = session.post(f"{spec.url}/api/3.0/mlflow/users/permissions/grant",
                                    json={"username": user[0], "resource_type": "experiment",
                                          "resource_id": experiment, "permission": "EDIT"},
                                    timeout=30)
            if response.status_code != 200:
                raise RuntimeError(f"granting EDIT: {response.status_code} {response.text[:300]}")
            res["editor"] = self.load_phase(session, experiment, user, "editor")
        res["peak_life_rss"] = self.sampler.peak_life
        return res

    def load_phase(self, session, experiment, auth, prefix):
        """args.clients clients on fresh runs for args.seconds, as `auth`; then every run's
        metric history read back and compared with the steps the clients got a 200 for."""
        import psutil

        spec, args = self.spec, self.args
        res = {}
        run_ids = [self.api(session, "POST", "runs/create",
                            json={"experiment_id": experiment, "run_name": f"{prefix}-{i}",
                                  "start_time": int(time.time() * 1000)})["run"]["info"]["run_id"]
                   for i in range(args.clients)]
        who = f" as {auth[0]}" if auth else ""
        clients = ClientProcesses(spec, run_ids, args.client_procs, args.seconds, auth)
        try:
            clients.start()
            client_pids = [proc.pid for proc in clients.procs]
            log(f"{spec.label}: load, {args.clients} clients{who} in {args.client_procs} "
                f"process(es), {args.seconds} s")
            root = self.sampler.root
            server_cpu0 = tree_cpu(tree(root))
            pg_cpu0 = tree_cpu(tree(self.postmaster))
            everyone0 = all_processes_cpu()
            own0 = tree_cpu([psutil.Process()])
            self.sampler.window(True)
            load_started = time.monotonic()
            clients.go()
            outputs = clients.results()
            load_wall = time.monotonic() - load_started
            self.sampler.window(False)
            everyone1 = all_processes_cpu()
            own1 = tree_cpu([psutil.Process()])
            server_cpu1 = tree_cpu(tree(root))
            pg_cpu1 = tree_cpu(tree(self.postmaster))
        finally:
            clients.kill()

        def cpu_delta(before, after):
            return sum(after[pid] - before.get(pid, 0.0) for pid in after)

        client_results = [c for out in outputs for c in out["clients"]]
        latencies = sorted(x for c in client_results for x in c["latencies_ms"])
        ok = sum(len(c["acked_steps"]) for c in client_results)
        errors = {}
        for c in client_results:
            for status, count in c["errors"].items():
                errors[status] = errors.get(status, 0) + count
        sample_errors = [c["sample_error"] for c in client_results if c["sample_error"]]
        client_wall = max(out["wall_s"] for out in outputs)
        res.update(
            requests=len(latencies), ok=ok, errors=errors, error_total=sum(errors.values()),
            sample_error=sample_errors[0] if sample_errors else None,
            rps=len(latencies) / client_wall, ok_rps=ok / client_wall,
            p50=percentile(latencies, 0.50), p95=percentile(latencies, 0.95),
            p99=percentile(latencies, 0.99),
            peak_load_rss=self.sampler.take_window_peak(),
            rss_samples=self.sampler.samples_in_window,
            server_cpu=cpu_delta(server_cpu0, server_cpu1) / load_wall,
            pg_cpu=cpu_delta(pg_cpu0, pg_cpu1) / load_wall,
            client_cpu=sum(out["cpu_s"] for out in outputs) / client_wall,
            harness_cpu=cpu_delta(own0, own1) / load_wall,
        )
        res["peak_rows"] = self.sampler.peak_window_rows
        ours = {*server_cpu0, *server_cpu1, *pg_cpu0, *pg_cpu1, *own1, *client_pids}
        others = {pid: cpu for pid, cpu in everyone1.items() if pid not in ours}
        res["other_cpu"] = cpu_delta(everyone0, others) / load_wall

        lost = extra = duplicates = stored_total = 0
        for c in client_results:
            stored, page_token = [], None
            while True:
                params = {"run_id": c["run_id"], "metric_key": METRIC_KEY}
                if page_token:
                    params["page_token"] = page_token
                body = self.api(session, "GET", "metrics/get-history", params=params)
                stored += [int(m["step"]) for m in body.get("metrics", [])]
                page_token = body.get("next_page_token")
                if not page_token:
                    break
            acked = set(c["acked_steps"])
            stored_total += len(stored)
            duplicates += len(stored) - len(set(stored))
            lost += len(acked - set(stored))
            extra += len(set(stored) - acked)
        res.update(stored=stored_total, lost=lost, extra=extra, duplicates=duplicates,
                   runs_checked=len(client_results), after_rss=self.sampler.latest[0])
        log(f"{spec.label}{who}: {ok} metrics acked, {stored_total} stored, {lost} lost")
        return res

    def log_tail(self, lines=40):
        with contextlib.suppress(OSError):
            return mask("\n".join(self.log_path.read_text().splitlines()[-lines:]))
        return ""

    def stop(self):
        """SIGTERM to the server (as a platform stops a container), then whatever is left."""
        import psutil

        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        if self.sampler:
            self.sampler.stop()
            self.result["peak_life_rss"] = self.sampler.peak_life
        leftovers = [p for p in (self.sampler.seen.values() if self.sampler else [])
                     if p.pid != self.proc.pid and p.is_running()]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for proc in leftovers:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        psutil.wait_procs(leftovers, timeout=10)
        self._logfile.close()
        # Both servers leave a directory in /dev/shm behind (the image its rendered
        # basic_auth.ini, stock MLflow its job queue's huey store); a container's goes with
        # the container, these would stay.
        dirs = set(self.sampler.private_dirs) if self.sampler else set()
        with contextlib.suppress(OSError):
            for path in re.findall(r"auth config written to (\S+)", self.log_path.read_text()):
                dirs.add(Path(path).parent)
        for path in dirs:
            shutil.rmtree(path, ignore_errors=True)


# --- report ----------------------------------------------------------------------------------


def mib(value):
    return f"{value / MIB:.0f} MiB"


def table(results, sizes):
    def cell(res, fn):
        if res is None:
            return "-"
        try:
            return fn(res)
        except (KeyError, TypeError, ZeroDivisionError):
            return "n/a"

    def errors(r):
        if not r["error_total"]:
            return "0"
        return f"{r['error_total']} ({', '.join(f'{k}: {v}' for k, v in sorted(r['errors'].items()))})"

    kit, stock = results.get("kit"), results.get("stock")
    # The non-admin load ran on the kit's server after the admin's: start and idle are shared.
    editor = {**kit, **kit["editor"]} if kit and kit.get("editor") else None
    rows = [
        ("time to first /health 200", lambda r: f"{r['healthy_s']:.1f} s"),
        ("processes in tree (idle)", lambda r: str(r["idle_procs"])),
        ("RSS idle, whole tree (+settle)", lambda r: mib(r["idle_rss"])),
        ("RSS peak under load, whole tree", lambda r: mib(r["peak_load_rss"])),
        ("RSS after load + read-back", lambda r: mib(r["after_rss"])),
        ("RSS peak start..stop, whole tree", lambda r: mib(r["peak_life_rss"])),
        ("requests/s (log-metric)", lambda r: f"{r['rps']:.0f}"),
        ("requests/s per busy server core", lambda r: f"{per_core(r):.0f}"),
        ("latency p50 / p95 / p99", lambda r: f"{r['p50']:.0f} / {r['p95']:.0f} / {r['p99']:.0f} ms"),
        ("requests / errors (non-200)", lambda r: f"{r['requests']} / {errors(r)}"),
        ("metrics acked 200 / read back", lambda r: f"{r['ok']} / {r['stored']}"),
        ("lost (acked, not stored)", lambda r: str(r["lost"])),
        ("stored without a 200 / dup", lambda r: f"{r['extra']} / {r['duplicates']}"),
        ("server tree CPU under load", lambda r: f"{100 * r['server_cpu']:.0f}% of a core"),
        ("postgres CPU under load", lambda r: f"{100 * r['pg_cpu']:.0f}% of a core"),
        ("client process CPU", lambda r: f"{100 * r['client_cpu']:.0f}% of a core"),
        ("bench harness CPU (RSS sampler)", lambda r: f"{100 * r['harness_cpu']:.0f}% of a core"),
        ("other processes' CPU under load", lambda r: f"{100 * r['other_cpu']:.0f}% of a core"),
    ]
    columns = [kit, editor, stock] if editor else [kit, stock]
    body = [(name, *(cell(res, fn) for res in columns)) for name, fn in rows]
    shared = f"{sizes['shared_mib']:.0f} MiB" if sizes.get("shared_mib") else "n/a"
    body.append(("site-packages, bench venv (shared)", *([shared] * len(columns))))
    header = ("metric", "mlflow-kit image (admin)", *(["same, non-admin user"] if editor else []),
              "stock mlflow server (no auth)")
    return render(header, body)


def render(header, body):
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    out = [" | ".join(h.ljust(w) for h, w in zip(header, widths)),
           " | ".join("-" * w for w in widths)]
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in body]
    return "\n".join(out)


def per_core(res):
    """log-metric requests/s per core the server tree kept busy (its CPU seconds per second)."""
    return res["rps"] / res["server_cpu"]


# Issue 18's targets for the server, each against stock MLflow measured in the same run.
TARGET_IDLE_MIB = 150
TARGET_PEAK_MIB = 200


def targets(results):
    """Each server figure of issue 18 beside its target and stock's, and whether it is met."""
    kit, stock = results.get("kit"), results.get("stock")
    if not (kit and stock):
        return "issue 18 targets: need both servers measured (no --only)"
    editor = kit.get("editor")

    def verdict(ok):
        return "met" if ok else "NOT met"

    rows = []
    for label, res in (("admin", kit), ("non-admin user", editor)):
        if not res:
            continue
        rows.append((f"requests/s per busy core, 16 clients, auth on ({label})",
                     f"{per_core(res):.0f}", f"{per_core(stock):.0f}", "at least stock's",
                     verdict(per_core(res) >= per_core(stock))))
        rows.append((f"latency p50 / p95 under that load ({label})",
                     f"{res['p50']:.0f} / {res['p95']:.0f} ms",
                     f"{stock['p50']:.0f} / {stock['p95']:.0f} ms", "at most stock's",
                     verdict(res["p50"] <= stock["p50"] and res["p95"] <= stock["p95"])))
    rows.append(("idle RSS, whole server tree", mib(kit["idle_rss"]), mib(stock["idle_rss"]),
                 f"at most {TARGET_IDLE_MIB} MiB", verdict(kit["idle_rss"] <= TARGET_IDLE_MIB * MIB)))
    peak = max(kit["peak_load_rss"], (editor or {}).get("peak_load_rss", 0))
    rows.append(("peak RSS under load (both loads)", mib(peak), mib(stock["peak_load_rss"]),
                 f"at most {TARGET_PEAK_MIB} MiB", verdict(peak <= TARGET_PEAK_MIB * MIB)))
    rows.append(("start to first /health", f"{kit['healthy_s']:.1f} s", f"{stock['healthy_s']:.1f} s",
                 "at most half of stock's", verdict(kit["healthy_s"] <= stock["healthy_s"] / 2)))
    header = ("issue 18 figure (this run)", "mlflow-kit image", "stock mlflow server", "target", "")
    return render(header, rows)


def breakdown(res):
    lines = []
    for title, key in (("idle", "idle_rows"), ("at peak under load", "peak_rows")):
        rows = res.get(key) or []
        lines.append(f"  {res['label']}, {title}:")
        for pid, rss, cmd in sorted(rows, key=lambda r: -r[1]):
            lines.append(f"    {rss / MIB:6.0f} MiB  pid {pid:<7} {cmd}")
    return lines


def verdict(kit):
    if kit is None or "peak_load_rss" not in kit:
        return "image budget: not measured"
    problems = []
    for phase in (kit, kit.get("editor") or {}):
        if phase.get("peak_load_rss", 0) >= BUDGET_MIB * MIB:
            problems.append(f"peak RSS {mib(phase['peak_load_rss'])} >= {BUDGET_MIB} MiB")
        if phase.get("error_total"):
            problems.append(f"{phase['error_total']} errors")
        if phase.get("lost"):
            problems.append(f"{phase['lost']} lost metrics")
    state = "FAIL" if problems else "PASS"
    detail = "; ".join(problems) if problems else (
        f"peak RSS under load {mib(kit['peak_load_rss'])} < {BUDGET_MIB} MiB, 0 errors, "
        "0 lost metrics")
    return f"image budget (peak whole-tree RSS under load < {BUDGET_MIB} MiB, 0 errors, 0 lost): {state} ({detail})"


# --- main ------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="bench/image/run.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("BENCH_SECONDS", 30)),
                        help="load duration per server (env BENCH_SECONDS, default 30)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--client-procs", type=int,
                        default=int(os.environ.get("BENCH_CLIENT_PROCS", 1)),
                        help="client processes the clients are spread over "
                             "(env BENCH_CLIENT_PROCS, default 1)")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds between healthy and the idle RSS reading (10)")
    parser.add_argument("--only", choices=("kit", "stock"), help="measure one server only")
    parser.add_argument("--kit-workers", type=int,
                        help="MLFLOW_WORKERS for the image's server (default: the dev stack's)")
    parser.add_argument("--entrypoint", type=Path, default=ENTRYPOINT,
                        help="entrypoint of the image's server, to try a candidate change "
                             "before making it in images/mlflow (default: images/mlflow/"
                             "entrypoint.py; contract.json is looked up beside it)")
    parser.add_argument("--client-worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def become_subreaper():
    """Orphans of this run (the postmaster that pg_ctl leaves) become this process's children
    instead of PID 1's, which may not reap them; reap_orphans() collects them at the end."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def reap_orphans():
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def raise_interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv):
    args = parse_args(argv)
    if args.client_worker:
        return client_worker()
    # CLOCK_MONOTONIC is system-wide: the start survives the re-exec into the namespace.
    bench_started = float(os.environ.setdefault(STARTED_ENV, str(time.monotonic())))
    if os.environ.get(NETNS_MARK) != "1":
        sizes = install_sizes()
        os.environ[SIZES_ENV] = json.dumps(sizes)
        why_not = reexec_in_private_netns(argv)
        netns_note = f"host network namespace ({why_not}); everything binds 127.0.0.1 except the image (0.0.0.0)"
    else:
        sizes = json.loads(os.environ.get(SIZES_ENV, "{}"))
        netns_note = "private network namespace (loopback only)"
    os.environ.pop(SIZES_ENV, None)
    os.environ.pop(NETNS_MARK, None)
    os.environ.pop(STARTED_ENV, None)
    args.client_procs = max(1, min(args.client_procs, args.clients))

    become_subreaper()
    # SIGINT too: started in the background, Python would otherwise inherit it ignored.
    signal.signal(signal.SIGINT, raise_interrupt)
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.signal(signal.SIGHUP, raise_interrupt)
    load_before = os.getloadavg()
    before = all_processes_cpu()
    time.sleep(1.0)
    after = all_processes_cpu()
    busy_before = 100 * sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items()
                            if pid != os.getpid())
    if busy_before > 30:
        log(f"warning: the machine is busy before the run ({busy_before:.0f}% of a core): "
            "numbers will be skewed; see \"other processes' CPU\" in the table")
    results = {}
    workdir = Path(tempfile.mkdtemp(prefix="mlflow-kit-bench-"))
    os.chmod(workdir, 0o755)
    home = workdir / "home"
    home.mkdir()
    measurements = []
    failed_log = None
    try:
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(shutil.rmtree, workdir, True)
            pg_base = workdir / "pg"
            pg_base.mkdir()
            pg = PostgresCluster(pg_base)
            cleanup.callback(pg.stop)
            log(f"PostgreSQL {pg.bin.parent.name} on 127.0.0.1:{pg.port}, moto S3; {netns_note}")
            pg.start()
            s3 = MotoServer(workdir)
            cleanup.callback(s3.stop)
            s3.start()
            specs = []
            if args.only in (None, "kit"):
                kit = kit_spec(pg, s3, home, args.entrypoint, args.kit_workers)
                region = kit.env["AWS_DEFAULT_REGION"]
                specs.append(("kit", kit))
            else:
                region = "us-east-1"
            if args.only in (None, "stock"):
                specs.append(("stock", stock_spec(pg, s3, home, region)))
            s3.ensure_bucket(BUCKET, region)
            for key, spec in specs:
                measurement = Measurement(spec, args, workdir, pg.postmaster())
                measurements.append(measurement)
                try:
                    results[key] = measurement.run()
                except Exception:
                    failed_log = (spec.label, measurement.log_tail())  # before workdir goes
                    raise
                finally:
                    measurement.stop()
    except KeyboardInterrupt:
        log("interrupted; everything started was stopped")
        return 130
    except Exception as error:  # the run broke: say where, with the server's log
        log(f"the benchmark broke: {mask(str(error))}")
        if failed_log:
            log(f"last lines of {failed_log[0]}'s log:\n{failed_log[1]}")
        return 1
    finally:
        reap_orphans()

    print(f"mlflow-kit image benchmark: MLflow {importlib.metadata.version('mlflow')}, Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} cores; {args.clients} clients in "
          f"{args.client_procs} client process(es), {args.seconds:.0f} s of POST "
          f"/api/2.0/mlflow/runs/log-metric (one metric per request) per server; RSS = "
          "whole process tree, summed, sampled every 100 ms; MiB = 2^20 bytes")
    print()
    print(table(results, sizes))
    print()
    print(targets(results))
    print()
    for key, res in results.items():
        spec = next(m.spec for m in measurements if m.result is res)
        print(f"{res['label']}: {spec.notes}")
        for phase, title in ((res, "admin" if spec.auth else "no auth"), (res.get("editor"), "non-admin user")):
            if not phase:
                continue
            print(f"  {title}: {phase['rss_samples']} RSS samples under load")
            if phase.get("sample_error"):
                print(f"  {title}: first error: {mask(phase['sample_error'])}")
        print("\n".join(breakdown(res)))
    print()
    print(image_table(sizes))
    print()
    print("site-packages, bench venv: .venv-image (image requirements + test/image/requirements.txt)")
    print(f"machine CPU busy in the second before the run: {busy_before:.0f}% of a core; load "
          f"average (1/5/15 min) at the start {' / '.join(f'{x:.1f}' for x in load_before)}, at "
          f"the end {' / '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"whole run: {time.monotonic() - bench_started:.0f} s (this process; setup.sh not included)")
    print(verdict(results.get("kit")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
