"""Fast checks of the metrics wiring in the entrypoint and kit_metrics.py, without a server."""

import importlib.util
import os
import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "images" / "mlflow"


def load(name):
    spec = importlib.util.spec_from_file_location(name, IMAGE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


entrypoint = load("entrypoint")
CONTRACT = entrypoint.load_contract(entrypoint.contract_path())
# The least env the runtime contract (images/mlflow/contract.json) accepts for proxy auth.
MINIMAL_ENV = {
    "MLFLOW_BACKEND_STORE_URI": "postgresql://u:pw-long-enough@db:5432/tracking",
    "MLFLOW_AUTH_MODE": "proxy",
    "MLFLOW_ARTIFACTS_DESTINATION": "s3://bucket-name/mlflow",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "MLFLOW_PUBLIC_HOSTNAME": "mlflow.example.com",
}


def contract_settings(**overrides):
    """Settings as the entrypoint makes them: the contract's defaults (MLFLOW_PUBLIC_SCHEME, PORT,
    MLFLOW_WORKERS, ...) applied and every value checked, so a new variable cannot be missed."""
    settings, problems = entrypoint.validate(CONTRACT, {**MINIMAL_ENV, **overrides})
    assert problems == [], problems
    return settings


def test_metrics_on_wraps_the_app_mlflow_would_run(monkeypatch):
    env = {"MLFLOW_METRICS": "on"}
    cmd = ["python", "-m", "uvicorn", "--workers", "2", "mlflow.server.fastapi_app:app"]
    out = entrypoint.with_kit_metrics(cmd, env)
    assert out[-2:] == ["--factory", "kit_metrics:create_app"]
    assert env["MLFLOW_KIT_METRICS_APP"] == "mlflow.server.fastapi_app:app"
    assert env["MLFLOW_KIT_METRICS_APP_FACTORY"] == "0"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(IMAGE)
    # A factory app (the auth app, or bounded_auth's) stays a factory behind the wrapper.
    env = {"MLFLOW_METRICS": "on", "PYTHONPATH": str(IMAGE)}
    out = entrypoint.with_kit_metrics(["uvicorn", "--factory", "bounded_auth:create_app"], env)
    assert out == ["uvicorn", "--factory", "kit_metrics:create_app"]
    assert env["MLFLOW_KIT_METRICS_APP"] == "bounded_auth:create_app"
    assert env["MLFLOW_KIT_METRICS_APP_FACTORY"] == "1"
    assert env["PYTHONPATH"] == str(IMAGE)


def test_metrics_off_changes_nothing():
    cmd = ["uvicorn", "mlflow.server.fastapi_app:app"]
    env = {"MLFLOW_METRICS": "off"}
    assert entrypoint.with_kit_metrics(list(cmd), env) == cmd
    assert env == {"MLFLOW_METRICS": "off"}
    assert "--expose-prometheus" not in entrypoint.server_args(contract_settings(MLFLOW_METRICS="off"))
    assert "--expose-prometheus" not in entrypoint.server_args(contract_settings())


def test_each_start_gets_a_fresh_private_multiprocess_directory(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("prometheus_multiproc_dir", "/somewhere/stale")
    first = entrypoint.prepare_metrics_directory()
    Path(first, "counter_123.db").write_bytes(b"x")  # a worker's file of this start
    second = entrypoint.prepare_metrics_directory()
    try:
        assert first != second and os.listdir(second) == []
        assert stat.S_IMODE(os.stat(second).st_mode) == 0o700
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == second
        assert "prometheus_multiproc_dir" not in os.environ
        args = entrypoint.server_args(contract_settings(MLFLOW_METRICS="on"))
        assert args[args.index("--expose-prometheus") + 1] == second
    finally:
        for path in (first, second):
            for name in os.listdir(path):
                os.remove(os.path.join(path, name))
            os.rmdir(path)


def test_the_contract_defaults_metrics_off_and_refuses_other_values():
    assert contract_settings()["MLFLOW_METRICS"] == "off"
    _, problems = entrypoint.validate(CONTRACT, {**MINIMAL_ENV, "MLFLOW_METRICS": "yes"})
    assert any("MLFLOW_METRICS" in p for p in problems), problems


def test_endpoint_labels_stay_few(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    sys.modules.pop("kit_metrics", None)
    kit = load("kit_metrics")
    assert kit.endpoint_of("/api/2.0/mlflow/runs/log-metric") == "/api/2.0/mlflow/runs/log-metric"
    assert kit.endpoint_of("/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.pkl") == \
        "/api/2.0/mlflow-artifacts/artifacts/{path}"
    assert kit.endpoint_of("/static-files/static/js/main.0a1b2c.js") == "/static-files{path}"
    assert kit.endpoint_of("/../../etc/passwd") == "other"
    assert kit.endpoint_of("/#/experiments/12345") == "other"
    for i in range(kit.MAX_ENDPOINTS + 50):  # a scanner walking the API's namespace
        kit.endpoint_of(f"/api/2.0/mlflow/made-up-{i}")
    assert len(kit._seen_endpoints) == kit.MAX_ENDPOINTS
    assert kit.endpoint_of("/api/2.0/mlflow/made-up-new") == "other"
