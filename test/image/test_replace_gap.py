"""The local stack's server replaced under load (issue 16): the Docker provider deletes a
container with a fixed name and port before it creates its replacement (a rotated password
replaces it), so the server is away for seconds. MLflow's own client must ride through that on
its HTTP retries, with the defaults users have: here clients log metrics while the container is
stopped and a new one started on the same env and port, as `pulumi up` does; every logged value
is acknowledged and reads back, and the client's retries are counted. The gap is measured and
printed (speed is not asserted here; bench/ measures).

MLflow's defaults (mlflow/environment_variables.py and mlflow/utils/request_utils.py of the
pinned release): MLFLOW_HTTP_REQUEST_MAX_RETRIES 7, MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR 2,
MLFLOW_HTTP_REQUEST_BACKOFF_JITTER 1.0, a urllib3 Retry on connect, read and status errors
(408, 429, 500, 502, 503, 504) for every method. urllib3 2 sleeps 0, 4, 8, 16, 32, 64, 120 s
between its attempts (factor * 2^(n-1), the first retry at once, capped at 120 s): about 4
minutes in all, far beyond a replace."""

import threading
import time

import pytest
import requests
import urllib3
from conftest import token
from mlflow import MlflowClient
from mlflow.environment_variables import (
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER,
    MLFLOW_HTTP_REQUEST_MAX_RETRIES,
)
from urllib3.util.retry import Retry

CLIENTS = 4
# Each client stops after this many values or this long, whichever first (bounded).
MAX_VALUES = 400
MAX_SECONDS = 240


@pytest.fixture(scope="module")
def server(make_env, start_server):
    env, _ = make_env("replace_gap")
    return start_server(env, "container"), env


def test_mlflow_client_rides_through_a_replace(server, monkeypatch, capsys):
    srv, env = server
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", env["MLFLOW_ADMIN_USERNAME"])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", env["MLFLOW_ADMIN_PASSWORD"])
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)  # the client's defaults, as users have them
    # The defaults this test rides on, read from the client itself (not restated by hand).
    assert (MLFLOW_HTTP_REQUEST_MAX_RETRIES.get(), MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.get(), MLFLOW_HTTP_REQUEST_BACKOFF_JITTER.get()) == (7, 2, 1.0)
    assert int(urllib3.__version__.split(".")[0]) >= 2  # the backoff schedule above
    window = sum(min(2 * 2 ** (n - 1), Retry.DEFAULT_BACKOFF_MAX) if n > 1 else 0 for n in range(1, 8))
    assert window == 244  # seconds of retrying before a request fails

    # Every retry the client's urllib3 decides on, by cause (the error's class, or the status).
    retries = []
    increment = Retry.increment

    def counted(self, method=None, url=None, response=None, error=None, *args, **kwargs):
        retries.append(type(error).__name__ if error is not None else f"status {getattr(response, 'status', '?')}")
        return increment(self, method, url, response, error, *args, **kwargs)

    monkeypatch.setattr(Retry, "increment", counted)
    client = MlflowClient(tracking_uri=srv.url)
    experiment = client.create_experiment(f"replace-{token(6)}")
    runs = [client.create_run(experiment).info.run_id for _ in range(CLIENTS)]
    acked = {run: [] for run in runs}
    errors = []
    replaced = threading.Event()

    logged_after = {run: 0 for run in runs}

    def log(run):
        mine = MlflowClient(tracking_uri=srv.url)
        started = time.monotonic()
        step = 0
        # Through the replacement, then 10 values more (bounded in count and time either way).
        while step < MAX_VALUES and time.monotonic() - started < MAX_SECONDS and logged_after[run] < 10:
            after = replaced.is_set()
            try:
                mine.log_metric(run, "loss", 1.0 / (step + 1), step=step)
                acked[run].append(step)
                logged_after[run] += after
            except Exception as err:  # noqa: BLE001 - any failure is what the test counts
                errors.append(f"{run} step {step}: {type(err).__name__}: {str(err)[:200]}")
            step += 1
            time.sleep(0.05)

    threads = [threading.Thread(target=log, args=(run,), daemon=True) for run in runs]
    for t in threads:
        t.start()
    time.sleep(3)

    # What `pulumi up` does to the fixed-name container: delete, then create on the same port.
    went = time.monotonic()
    srv.stop()
    srv.start()
    back = went
    while time.monotonic() - went < 300:
        try:
            if requests.get(f"{srv.url}/health", timeout=2).text == "OK":
                back = time.monotonic()
                break
        except requests.RequestException:
            pass
        time.sleep(0.1)
    replaced.set()
    for t in threads:
        t.join(MAX_SECONDS + 60)
    assert not any(t.is_alive() for t in threads)

    assert errors == []
    # The client did ride on its retries: the replace was not simply missed.
    assert retries, "no request was retried: the clients never met the gap"
    for run in runs:
        history = client.get_metric_history(run, "loss")
        assert sorted(m.step for m in history) == sorted(acked[run]), run
        assert logged_after[run] == 10, "the client logged again after the replacement"
    with capsys.disabled():
        total = sum(len(v) for v in acked.values())
        causes = {c: retries.count(c) for c in sorted(set(retries))}
        print(f"\n[replace-gap] server away {back - went:.1f} s (stop + start of the container); "
              f"{total} of {total} acknowledged metrics read back, 0 errors, {CLIENTS} clients; "
              f"{len(retries)} retries by MLflow's client at its defaults: {causes}")
