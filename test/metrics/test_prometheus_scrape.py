"""The real Prometheus (Debian's `prometheus`) scraping the real server under a bounded load.

The server is the image's entrypoint (images/mlflow/entrypoint.py) in test/image's venv with
the env stacks/runtime-env.ts computes for the dev stack (MLflow's basic auth on) plus
MLFLOW_METRICS=on, on a throwaway PostgreSQL and moto's S3 server, all on 127.0.0.1. Prometheus
scrapes /metrics every second with the admin's credentials, as a monitoring side would.

Asserted: /metrics refuses a request without credentials; every metric the dashboard
(infra/monitoring/mlflow-dashboard.json) queries is in the server's scrape; after the load,
every panel query returns series in Prometheus, and the counters and histograms it reads moved
by at least what the load did.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from metrics_server import ROOT, free_port, log_metrics, serve, stores, token, wait_until

TSX = ROOT / "node_modules" / ".bin" / "tsx"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

DASHBOARD = ROOT / "infra" / "monitoring" / "mlflow-dashboard.json"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
JOB = "mlflow"
BUCKET = "mlflow-kit-metrics-artifacts"
# The load: bounded in count; every request must answer within REQUEST_TIMEOUT.
RUNS = 12
METRICS_PER_RUN = 10
ARTIFACT_BYTES = 64 * 1024
REQUEST_TIMEOUT = 30
# Names in a PromQL expression that are metrics (not functions, keywords or labels).
PROMQL_WORDS = {"sum", "rate", "by", "max", "histogram_quantile", "le"}


def dashboard_queries():
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [(p["title"], t["expr"]) for p in panels for t in p["targets"]]


def concrete(expr):
    """A panel query as Grafana would send it, for this job and a short window."""
    return expr.replace('"$job"', f'"{JOB}"').replace("$__rate_interval", "1m")


def metric_names(expr):
    names = set(re.findall(r"\b(mlflow_[a-z0-9_]+)\b", expr))
    return {n for n in names if n not in PROMQL_WORDS}


# --- the server and Prometheus -------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir():
    base = tempfile.mkdtemp(prefix="mlflow-kit-metrics-")
    os.chmod(base, 0o755)
    yield Path(base)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def server(workdir):
    """The image's server with MLFLOW_METRICS=on (metrics_server.py)."""
    with stores(workdir, BUCKET) as (postgres, s3), serve(workdir, postgres, s3, BUCKET, "metrics") as srv:
        yield srv


@contextmanager
def running_prometheus(workdir, name, config):
    """The real Prometheus on a free loopback port with this configuration; yields its URL."""
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.fail("prometheus not installed: run test/metrics/setup.sh")
    path = workdir / f"{name}.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    path.chmod(0o600)
    port = free_port()
    log = open(workdir / f"{name}.log", "w")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={path}", f"--storage.tsdb.path={workdir / (name + '-tsdb')}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        def ready():
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited {proc.returncode}:\n"
                                   + (workdir / f"{name}.log").read_text()[-4000:])
            try:
                return requests.get(f"{url}/-/ready", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, 60, "prometheus /-/ready", interval=0.5)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def prometheus(workdir, server):
    secret = workdir / "scrape-password"
    secret.write_text(server.auth[1])
    secret.chmod(0o600)
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{
            "job_name": JOB,
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}],
            "basic_auth": {"username": server.auth[0], "password_file": str(secret)},
        }],
    }
    with running_prometheus(workdir, "prometheus", config) as url:
        yield url


def query(prometheus_url, promql):
    """Prometheus' instant query: [(labels, value)]."""
    body = requests.get(f"{prometheus_url}/api/v1/query", params={"query": promql},
                        timeout=10).json()
    assert body["status"] == "success", (promql, body)
    return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]


def total(prometheus_url, promql):
    return sum(v for _, v in query(prometheus_url, promql))


def wait_for_scrape_after(prometheus_url, moment, deadline=30):
    """Until Prometheus has a successful scrape of the server that started after `moment`."""
    def scraped():
        targets = requests.get(f"{prometheus_url}/api/v1/targets", timeout=5).json()
        for t in targets["data"]["activeTargets"]:
            if t["labels"]["job"] == JOB and t["health"] == "up":
                last = t["lastScrape"]
                # RFC 3339 with nanoseconds; seconds precision is enough here.
                stamp = time.mktime(time.strptime(last[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
                return stamp > moment + 1
        return False

    wait_until(scraped, deadline, "a Prometheus scrape after the load", interval=0.5)


def load(server):
    """The bounded load: experiments, runs, metrics, artifact uploads and downloads, a 404."""
    s = requests.Session()
    s.auth = server.auth
    api = f"{server.url}/api/2.0/mlflow"
    exp = s.post(f"{api}/experiments/create", json={"name": f"metrics-{token(8)}"},
                 timeout=REQUEST_TIMEOUT).json()["experiment_id"]
    counts = {"requests": 1, "uploaded": 0, "downloaded": 0}
    payload = os.urandom(ARTIFACT_BYTES)
    for i in range(RUNS):
        run_id, _, errors = log_metrics(server.url, server.auth, exp, METRICS_PER_RUN, REQUEST_TIMEOUT)
        assert errors == 0
        # Artifacts go through the server's proxy (--serve-artifacts) to S3.
        path = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/blob-{i}.bin"
        put = s.put(path, data=payload, timeout=REQUEST_TIMEOUT)
        assert put.status_code == 200, put.text
        got = s.get(path, timeout=REQUEST_TIMEOUT)
        assert got.status_code == 200 and got.content == payload
        counts["requests"] += 1 + METRICS_PER_RUN + 2
        counts["uploaded"] += len(payload)
        counts["downloaded"] += len(got.content)
    missing = s.get(f"{api}/runs/get", params={"run_id": "0" * 32}, timeout=REQUEST_TIMEOUT)
    assert missing.status_code == 404
    counts["requests"] += 1
    return counts


# --- the tests ---------------------------------------------------------------------------------


def test_metrics_refuses_a_request_without_credentials(server):
    r = requests.get(f"{server.url}/metrics", timeout=10)
    assert r.status_code == 401
    assert "mlflow_" not in r.text


def test_every_metric_the_dashboard_queries_is_in_the_servers_scrape(server):
    load(server)  # a few requests first: label sets appear once something was counted
    text = requests.get(f"{server.url}/metrics", auth=server.auth, timeout=10).text
    samples = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.M))
    wanted = {n for _, expr in dashboard_queries() for n in metric_names(expr)}
    assert wanted, "the dashboard queries no mlflow_ metric"
    missing = sorted(wanted - samples)
    assert not missing, f"the dashboard queries metrics the server does not expose: {missing}"
    # MLflow's own exporter is the one serving /metrics (multiprocess collector).
    assert "mlflow_http_request_duration_seconds_bucket" in samples


def test_prometheus_scrapes_the_dashboards_series_and_they_move(server, prometheus):
    wait_for_scrape_after(prometheus, time.time())
    job = f'{{job="{JOB}"}}'
    before = {
        "requests": total(prometheus, f"sum(mlflow_kit_http_requests_total{job})"),
        "uploaded": total(prometheus, f'sum(mlflow_kit_artifact_bytes_total{{job="{JOB}",direction="upload"}})'),
        "downloaded": total(prometheus, f'sum(mlflow_kit_artifact_bytes_total{{job="{JOB}",direction="download"}})'),
        "latency": total(prometheus, f"sum(mlflow_http_request_duration_seconds_count{job})"),
        "opened": total(prometheus, f"sum(mlflow_kit_db_pool_connections_opened_total{job})"),
        "checkouts": total(prometheus, f"sum(mlflow_kit_db_pool_checkouts_total{job})"),
    }
    started = time.time()
    did = load(server)
    wait_for_scrape_after(prometheus, time.time())
    after = {
        "requests": total(prometheus, f"sum(mlflow_kit_http_requests_total{job})"),
        "uploaded": total(prometheus, f'sum(mlflow_kit_artifact_bytes_total{{job="{JOB}",direction="upload"}})'),
        "downloaded": total(prometheus, f'sum(mlflow_kit_artifact_bytes_total{{job="{JOB}",direction="download"}})'),
        "latency": total(prometheus, f"sum(mlflow_http_request_duration_seconds_count{job})"),
        "opened": total(prometheus, f"sum(mlflow_kit_db_pool_connections_opened_total{job})"),
        "checkouts": total(prometheus, f"sum(mlflow_kit_db_pool_checkouts_total{job})"),
    }
    # Counters moved by at least what the load did (Prometheus' own scrapes of /metrics and the
    # health checks add to the request count, nothing subtracts).
    assert after["requests"] - before["requests"] >= did["requests"], (before, after, did)
    assert after["uploaded"] - before["uploaded"] >= did["uploaded"], (before, after, did)
    assert after["downloaded"] - before["downloaded"] >= did["downloaded"], (before, after, did)
    # MLflow's exporter times the Flask routes (the REST API; not the FastAPI artifact routes).
    assert after["latency"] - before["latency"] >= did["requests"] - 2 * RUNS - 1, (before, after)
    assert after["opened"] >= 1
    # Every log-metric request writes the tracking store (and basic auth reads the auth store):
    # at least one checkout each.
    log_metrics = RUNS * METRICS_PER_RUN
    assert after["checkouts"] - before["checkouts"] >= log_metrics, (before, after)
    statuses = {m["status"] for m, _ in query(prometheus, f"mlflow_kit_http_requests_total{job}")}
    assert {"200", "404"} <= statuses
    endpoints = {m["endpoint"] for m, _ in query(prometheus, f"mlflow_kit_http_requests_total{job}")}
    assert "/api/2.0/mlflow/runs/log-metric" in endpoints
    assert "/api/2.0/mlflow-artifacts/artifacts/{path}" in endpoints
    rss = query(prometheus, f"mlflow_kit_worker_resident_memory_bytes{job}")
    assert rss and all(v > 50 * 2**20 for _, v in rss), rss  # an MLflow worker is > 50 MiB
    in_use = query(prometheus, f"mlflow_kit_db_pool_checked_out_connections{job}")
    assert in_use and all(v >= 0 for _, v in in_use), in_use  # checkins never outnumber checkouts

    # Every panel query, as Grafana sends it, returns series; rates and quantiles above zero,
    # the pool's checkouts/s among them. Left out of "above zero": the 5xx panel (empty while the
    # server makes no errors), the pool's connections in use now (0 between requests) and its
    # connections opened/s (0 once the pool is warm: kit_metrics.py).
    may_be_zero = ("checked_out", "connections_opened")
    empty, rates = [], {}
    for title, expr in dashboard_queries():
        result = query(prometheus, concrete(expr))
        if "5.." in expr:
            continue
        if not result:
            empty.append((title, expr))
        elif not any(name in expr for name in may_be_zero):
            assert any(v > 0 for _, v in result), (title, expr, result)
            rates[expr] = sum(v for _, v in result)
    assert not empty, f"panel queries with no series after the load: {empty}"
    pool_rate = [v for expr, v in rates.items() if "db_pool_checkouts_total" in expr]
    assert pool_rate and pool_rate[0] > 0, rates  # the pool panel has a real rate under load
    assert time.time() - started < 600


def ecs_collector(port, username):
    """The ECS collector's configuration and metric selectors, as infra/targets/ecs-monitoring.ts
    renders them (the same function the ECS target calls), for a server on this port."""
    script = (
        'import { collectorConfig, EMF_METRICS, bothSpellings } from "./infra/targets/ecs-monitoring";'
        f'const config = collectorConfig({{ stack: "metrics-test", mlflowPort: {int(port)}, adminUsername: {json.dumps(username)},'
        ' passwordEnv: "MLFLOW_ADMIN_PASSWORD", region: "eu-west-1", emfLogGroupName: "/ecs/metrics-test/mlflow-metrics" });'
        "process.stdout.write(JSON.stringify({ config, selectors: EMF_METRICS.map((m) => bothSpellings(m.name)) }));")
    out = subprocess.run([str(TSX), "-e", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_ecs_collectors_scrape_configuration_scrapes_the_real_server(server, workdir):
    """The ADOT collector's Prometheus receiver runs Prometheus' own scrape code on the
    receiver's `config`: the real Prometheus and its promtool, given that section as rendered for
    ECS (only the password expanded as the collector expands ${env:...}, and a 1 s interval so
    the test need not wait 60 s), must accept it, scrape the real server as the admin, and find
    every metric the collector sends to CloudWatch."""
    import yaml  # PyYAML, in the image's lock (MLflow needs it)

    rendered = ecs_collector(server.port, server.auth[0])
    receiver = yaml.safe_load(rendered["config"])["receivers"]["prometheus"]["config"]
    job = receiver["scrape_configs"][0]
    assert job["basic_auth"]["password"] == "${env:MLFLOW_ADMIN_PASSWORD}"  # never the secret itself
    job["basic_auth"]["password"] = server.auth[1]
    receiver["global"]["scrape_interval"] = "1s"
    receiver["global"]["scrape_timeout"] = "1s"
    path = workdir / "ecs-receiver.yml"
    path.write_text(json.dumps(receiver))
    path.chmod(0o600)
    assert os.access(PROMTOOL, os.X_OK), "promtool (Debian's prometheus package) not installed: run test/metrics/setup.sh"
    check = subprocess.run([PROMTOOL, "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    load(server)  # every metric has a series once something was counted
    with running_prometheus(workdir, "ecs-receiver", receiver) as url:
        def up():
            return any(v == 1 for _, v in query(url, 'up{job="mlflow", stack="metrics-test"}'))

        wait_until(up, 30, "the ECS receiver's scrape of the server", interval=0.5)
        missing = [s for s in rendered["selectors"]
                   if not query(url, f'{{__name__=~"{s.strip("^$")}", stack="metrics-test"}}')]
        assert not missing, f"metrics the ECS collector declares but the server's scrape lacks: {missing}"
