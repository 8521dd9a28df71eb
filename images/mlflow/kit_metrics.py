"""The figures MLflow's own exporter (--expose-prometheus) leaves out, in the same /metrics.

MLflow's exporter (prometheus_flask_exporter on the Flask app) counts and times the Flask
routes only, labelled by MLflow's version instead of the route (group_by in
mlflow/server/prometheus_exporter.py). In MLflow 3.x the artifact transfers are served by FastAPI routes in front of the
Flask mount (mlflow/server/artifact_router.py), the workers' memory is not collected in
multiprocess mode (prometheus_client's process collector is per process and the multiprocess
collector only reads the files), and the database pool is not measured at all. uvicorn loads
this module's create_app() in every worker in place of MLflow's app (entrypoint.py); it wraps
that app with an ASGI middleware and adds, through prometheus_client's multiprocess files
(PROMETHEUS_MULTIPROC_DIR, which the entrypoint sets and empties before the workers start):

  mlflow_kit_http_requests_total{endpoint,method,status}           every request, by route
  mlflow_kit_http_request_duration_seconds{endpoint}               its latency (histogram)
  mlflow_kit_artifact_bytes_total{direction="upload"|"download"}   artifact body bytes
  mlflow_kit_worker_resident_memory_bytes{pid}                     each worker's RSS
  mlflow_kit_db_pool_checked_out_connections                       SQLAlchemy pool, in use
  mlflow_kit_db_pool_checkouts_total                               connections handed out
  mlflow_kit_db_pool_connections_opened_total                      new DB connections

The pool's rate is its checkouts: a warm QueuePool reuses its connections, so the rate of
connections opened stays 0 under any steady load (it moves on start, on pool_recycle and when
a dropped connection is replaced), while every request that reads or writes a store checks one
out (the auth check of MLflow's basic auth too).
"""

import importlib
import os
import re
import time

from prometheus_client import Counter, Gauge, Histogram

# MLflow's artifact routes, proxied to the artifact store (--serve-artifacts).
ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/")
INNER_APP_ENV = "MLFLOW_KIT_METRICS_APP"
INNER_FACTORY_ENV = "MLFLOW_KIT_METRICS_APP_FACTORY"

ARTIFACT_BYTES = Counter(
    "mlflow_kit_artifact_bytes", "Artifact body bytes through the server's proxy.", ["direction"]
)
HTTP_REQUESTS = Counter(
    "mlflow_kit_http_requests", "Requests by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
HTTP_DURATION = Histogram(
    "mlflow_kit_http_request_duration_seconds", "Request latency by endpoint.", ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
# Label values stay few: the REST API's routes are fixed; paths that carry names (artifacts,
# static files, run pages) collapse to their route, anything else is "other".
_ARTIFACT_ROUTE = re.compile(r"^(/(?:ajax-)?api/2\.0/mlflow-artifacts/[a-z-]+)(/.*)?$")
_API_ROUTE = re.compile(r"^/(?:ajax-)?api/[0-9.]+/[A-Za-z0-9/_-]{1,80}$")
_NAMED_PREFIXES = ("/static-files/", "/get-artifact", "/model-versions/get-artifact")
MAX_ENDPOINTS = 200
_seen_endpoints = set()
# "all": one series per worker pid (the pid label). uvicorn never marks a worker dead for
# prometheus_client, so a replaced worker's last value stays until the next start, which gets a
# fresh directory (entrypoint.py).
WORKER_RSS = Gauge(
    "mlflow_kit_worker_resident_memory_bytes", "Resident memory of each server worker.",
    multiprocess_mode="all",
)
POOL_CHECKED_OUT = Gauge(
    "mlflow_kit_db_pool_checked_out_connections",
    "Database connections checked out of the SQLAlchemy pools, all workers.",
    multiprocess_mode="livesum",
)
POOL_CHECKOUTS = Counter(
    "mlflow_kit_db_pool_checkouts", "Connections handed out by the pools (one per store use)."
)
POOL_OPENED = Counter(
    "mlflow_kit_db_pool_connections_opened", "Database connections opened by the pools."
)

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes():
    # /proc/self/statm: size resident ... in pages; cheaper than psutil (not in the image).
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


def _observe_memory():
    rss = resident_bytes()
    if rss is not None:
        WORKER_RSS.set(rss)


def watch_database_pools():
    """Counts every SQLAlchemy pool's checkouts (the tracking and the auth store's engines)."""
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    def checked_out(*_):
        POOL_CHECKED_OUT.inc()
        POOL_CHECKOUTS.inc()

    event.listen(Pool, "checkout", checked_out)
    event.listen(Pool, "checkin", lambda *_: POOL_CHECKED_OUT.dec())
    event.listen(Pool, "connect", lambda *_: POOL_OPENED.inc())


class KitMetricsMiddleware:
    """Pure ASGI, in front of every route: requests, latency, artifact body bytes."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        _observe_memory()
        path = scope.get("path", "")
        endpoint = endpoint_of(path)
        artifacts = path.startswith(ARTIFACT_PREFIXES)
        status = {"code": "500"}

        async def counting_receive():
            message = await receive()
            if artifacts and message["type"] == "http.request":
                ARTIFACT_BYTES.labels("upload").inc(len(message.get("body", b"")))
            return message

        async def counting_send(message):
            if message["type"] == "http.response.start":
                status["code"] = str(message["status"])
            elif artifacts and message["type"] == "http.response.body":
                ARTIFACT_BYTES.labels("download").inc(len(message.get("body", b"")))
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            HTTP_DURATION.labels(endpoint).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(endpoint, scope.get("method", ""), status["code"]).inc()


def endpoint_of(path):
    """The endpoint label of a request path (bounded: see MAX_ENDPOINTS)."""
    match = _ARTIFACT_ROUTE.match(path)
    if match:
        endpoint = match.group(1) + ("/{path}" if match.group(2) else "")
    elif _API_ROUTE.match(path) or path in ("/health", "/version", "/metrics", "/"):
        endpoint = path
    elif path.startswith(_NAMED_PREFIXES):
        endpoint = next(p for p in _NAMED_PREFIXES if path.startswith(p)).rstrip("/") + "{path}"
    else:
        return "other"
    if endpoint not in _seen_endpoints:
        if len(_seen_endpoints) >= MAX_ENDPOINTS:
            return "other"
        _seen_endpoints.add(endpoint)
    return endpoint


def _load(spec):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def create_app():
    """uvicorn --factory: MLflow's app (named by the entrypoint), wrapped."""
    spec = os.environ[INNER_APP_ENV]
    inner = _load(spec)
    if os.environ.get(INNER_FACTORY_ENV) == "1":
        inner = inner()
    watch_database_pools()
    _observe_memory()
    return KitMetricsMiddleware(inner)
