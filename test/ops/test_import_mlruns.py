"""Import of an MLflow file store into the kit's server: a store made here by MLflow itself
(several experiments, nested runs, a run of 10,000 metric points, artifacts, a model with two
versions logged by mlflow.pyfunc.log_model), imported by tools/ops/import_mlruns.py through the
server's API, compared with the client, imported again without duplicates, and an interrupted
import finished."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dataset import IMPORT_TAG_PREFIX, client_for, count_points, differences, snapshot

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "ops" / "import_mlruns.py"
EXPERIMENTS = ["laptop-a", "laptop-b", "laptop-c"]
MODEL = "laptop-model"

# Runs in a child process: MLflow's fluent API keeps its tracking URI in the process.
MAKE_STORE = r'''
import os, sys, hashlib
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric

class AddN(mlflow.pyfunc.PythonModel):
    def __init__(self, n):
        self.n = n
    def predict(self, context, model_input):
        return [x + self.n for x in model_input]

root = sys.argv[1]
mlflow.set_tracking_uri("file:" + root)
client = MlflowClient()
for e, name in enumerate(%(experiments)r):
    exp = mlflow.set_experiment(name)
    client.set_experiment_tag(exp.experiment_id, "owner", f"person-{e}")
    for r in range(3):
        with mlflow.start_run(run_name=f"{name}-run-{r}") as parent:
            mlflow.log_params({"lr": 0.1 * (r + 1), "layers": r + 2, "optimizer": "adam"})
            mlflow.set_tags({"stage": "train", "index": str(r)})
            points = 10_000 if (e, r) == (0, 0) else 50
            metrics = [Metric("loss", 1.0 / (s + 1), 1_600_000_000_000 + s, s) for s in range(points)]
            for i in range(0, len(metrics), 1000):
                client.log_batch(parent.info.run_id, metrics=metrics[i:i + 1000])
            mlflow.log_text(f"notes of {name} {r}", "notes/readme.md")
            mlflow.log_dict({"run": r, "exp": name}, "config.json")
            for c in range(2):
                with mlflow.start_run(run_name=f"{name}-run-{r}-child-{c}", nested=True):
                    mlflow.log_metric("score", c + r, step=c)
                    mlflow.log_param("fold", c)
            if e == 0 and r < 2:
                mlflow.pyfunc.log_model(name="model", python_model=AddN(r + 1),
                                        registered_model_name=%(model)r, pip_requirements=[])
client.set_registered_model_tag(%(model)r, "team", "laptop")
client.update_registered_model(%(model)r, description="the laptop's model")
client.set_registered_model_alias(%(model)r, "best", "2")
client.set_model_version_tag(%(model)r, "1", "checked", "yes")
# A failed run too, and its end time.
with mlflow.start_run(run_name="crashed", experiment_id=mlflow.get_experiment_by_name(%(experiments)r[1]).experiment_id) as run:
    mlflow.log_metric("loss", 9.0)
client.set_terminated(run.info.run_id, "FAILED")
''' % {"experiments": EXPERIMENTS, "model": MODEL}


def file_client(store):
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    return client_for(Path(store).as_uri())


def run_import(server, deployment, store, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_"))}
    env.update({"MLFLOW_TRACKING_URI": server.url, "MLFLOW_DISABLE_TELEMETRY": "true",
                "MLFLOW_TRACKING_USERNAME": deployment.env["MLFLOW_ADMIN_USERNAME"],
                "MLFLOW_TRACKING_PASSWORD": deployment.env["MLFLOW_ADMIN_PASSWORD"]})
    out = subprocess.run([sys.executable, str(TOOL), "--from", str(store), *extra], env=env,
                         capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    return out


def stats_of(out):
    line = next(l for l in out.stdout.splitlines() if l.startswith("[import] experiments"))
    return {k: float(v) for k, v in (part.rsplit(" ", 1) for part in line[len("[import] "):].split(", "))}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("laptop") / "mlruns"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run([sys.executable, "-c", MAKE_STORE, str(root)], env=env, capture_output=True,
                         text=True, timeout=600, cwd=root.parent)
    assert out.returncode == 0, out.stderr[-3000:]
    snap = snapshot(file_client(root), EXPERIMENTS, [MODEL])
    assert count_points(snap) >= 10_000 + 3 * 50
    # The folder is moved after logging, as a store copied off a laptop is: its files still
    # name the old absolute paths.
    moved = root.parent / "copied-mlruns"
    root.rename(moved)
    return moved, snap


@pytest.fixture(scope="module")
def expected(store):
    return store[1]


@pytest.fixture(scope="module")
def target(make_deployment, start_server):
    deployment = make_deployment("importtgt")
    return deployment, start_server(deployment.env)


def test_import_copies_everything_and_a_second_import_adds_nothing(store, expected, target):
    deployment, server = target
    out = run_import(server, deployment, store[0])
    assert out.returncode == 0, out.stderr[-3000:]
    first = stats_of(out)
    assert first["runs_imported"] == 3 * 3 * 3 + 1 and first["runs_skipped"] == 0
    assert first["metric_points"] >= 10_000 and first["model_versions"] == 2

    client = client_for(server.url, deployment.env["MLFLOW_ADMIN_USERNAME"], deployment.env["MLFLOW_ADMIN_PASSWORD"])
    imported = snapshot(client, EXPERIMENTS, [MODEL])
    diff = differences(imported, expected)
    assert not diff, "\n".join(diff)
    big = imported["experiments"]["laptop-a"]["runs"]["laptop-a-run-0"]["metrics"]["loss"]
    assert len(big) == 10_000 and big[9_999] == (9_999, 1_600_000_000_000 + 9_999, 1.0 / 10_000)
    assert imported["experiments"]["laptop-b"]["runs"]["crashed"]["status"] == "FAILED"
    versions = imported["models"][MODEL]["versions"]
    assert set(versions) == {"1", "2"} and versions["1"]["source"]["files"]

    # The model the server serves loads and predicts as the laptop's did.
    import mlflow.pyfunc

    mlflow.set_tracking_uri(server.url)
    mlflow.set_registry_uri(server.url)
    assert list(mlflow.pyfunc.load_model(f"models:/{MODEL}@best").predict([1, 2])) == [3, 4]

    again = run_import(server, deployment, store[0])
    assert again.returncode == 0, again.stderr[-3000:]
    second = stats_of(again)
    assert second["runs_imported"] == 0 and second["runs_skipped"] == first["runs_imported"]
    assert second["model_versions"] == 0
    assert not differences(snapshot(client, EXPERIMENTS, [MODEL]), expected)


def test_an_interrupted_import_is_finished_by_the_next_one(store, expected, target):
    deployment, server = target
    client = client_for(server.url, deployment.env["MLFLOW_ADMIN_USERNAME"], deployment.env["MLFLOW_ADMIN_PASSWORD"])
    if client.get_experiment_by_name("laptop-c") is None:
        assert run_import(server, deployment, store[0]).returncode == 0
    # A run the import had begun but not finished: no completion tag, half its points.
    exp = client.get_experiment_by_name("laptop-c")
    run = client.search_runs([exp.experiment_id], filter_string="attributes.run_name = 'laptop-c-run-1'")[0]
    client.delete_tag(run.info.run_id, IMPORT_TAG_PREFIX + "complete")
    out = run_import(server, deployment, store[0])
    assert out.returncode == 0, out.stderr[-3000:]
    stats = stats_of(out)
    assert stats["runs_redone"] == 1 and stats["runs_imported"] == 1
    assert not differences(snapshot(client, EXPERIMENTS, [MODEL], active_only=True), expected)


def test_import_refuses_what_is_not_a_file_store_or_a_server(tmp_path, target, store):
    deployment, server = target
    (tmp_path / "empty").mkdir()
    out = run_import(server, deployment, tmp_path / "empty")
    assert out.returncode == 1 and "is not an MLflow file store" in out.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    out = subprocess.run([sys.executable, str(TOOL), "--from", str(store[0])], env={**env, "MLFLOW_TRACKING_URI": "file:/tmp/x"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "MLFLOW_TRACKING_URI: is not an http(s) URL" in out.stderr
