"""Logs the adoption data set into an MLflow 2.x server with its own 2.x client (run by the
python of a 2.x venv, test/adopt/setup.sh): experiments, runs with params, metric steps and tags, nested runs,
artifacts, a registered model with two versions, stages, aliases and tags, and a basic-auth user
with permissions (EDIT, MANAGE, and NO_PERMISSIONS on an experiment and on a model). Prints
{"alice_password", "experiments": {name: id}, "run_in_b"} as JSON.

MLFLOW_TRACKING_URI / _USERNAME / _PASSWORD come from the environment.
"""

import json
import os
import secrets
import sys
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.server import get_app_client

assert mlflow.__version__.startswith("2."), mlflow.__version__
client = MlflowClient()


def log_model_files(run_id, marker):
    # A model directory as a flavor writes one, without importing a model library.
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        model.mkdir()
        (model / "MLmodel").write_text(f"artifact_path: model\nflavors: {{}}\nrun_id: {run_id}\n")
        (model / "weights.bin").write_bytes(bytes(range(256)) * 64 + marker.encode())
        client.log_artifacts(run_id, str(model), "model")


def main():
    experiments = {}
    a = client.create_experiment("adopt-a", tags={"team": "vision", "owner": "alice"})
    b = client.create_experiment("adopt-b")
    experiments.update({"adopt-a": a, "adopt-b": b})

    mlflow.set_experiment(experiment_id=a)
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_params({"lr": "0.01", "epochs": "50", "optimizer": "adam"})
        mlflow.set_tags({"stage": "train", "data": "v3"})
        for step in range(50):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=1_700_000_000_000 + step)
            mlflow.log_metric("acc", step / 50, step=step)
        mlflow.log_text("hello from 2.x\n", "notes/readme.txt")
        mlflow.log_dict({"classes": ["cat", "dog"]}, "config/labels.json")
        for i in range(2):
            with mlflow.start_run(run_name=f"child-{i}", nested=True):
                mlflow.log_param("fold", str(i))
                mlflow.log_metric("val_loss", 0.5 - i / 10, step=i)
        log_model_files(parent.info.run_id, "v1")

    mlflow.set_experiment(experiment_id=b)
    with mlflow.start_run(run_name="retrain") as second:
        mlflow.log_param("lr", "0.005")
        mlflow.log_metric("loss", 0.05, step=0)
        log_model_files(second.info.run_id, "v2")
    failed = client.create_run(b, run_name="crashed")
    client.set_terminated(failed.info.run_id, status="FAILED")
    deleted = client.create_run(b, run_name="deleted")
    client.delete_run(deleted.info.run_id)

    client.create_registered_model("adopt-model", tags={"task": "classify"}, description="2.x model")
    v1 = mlflow.register_model(f"runs:/{parent.info.run_id}/model", "adopt-model")
    v2 = mlflow.register_model(f"runs:/{second.info.run_id}/model", "adopt-model")
    client.transition_model_version_stage("adopt-model", v1.version, "Production")
    client.transition_model_version_stage("adopt-model", v2.version, "Staging")
    client.set_registered_model_alias("adopt-model", "champion", v2.version)
    client.set_model_version_tag("adopt-model", v1.version, "validated", "true")
    client.update_model_version("adopt-model", v2.version, description="candidate")

    # The old basic-auth setup's user and permissions.
    auth = get_app_client("basic-auth", tracking_uri=os.environ["MLFLOW_TRACKING_URI"])
    password = secrets.token_urlsafe(18)
    auth.create_user("alice", password)
    auth.create_experiment_permission(a, "alice", "EDIT")
    auth.create_experiment_permission(b, "alice", "NO_PERMISSIONS")
    auth.create_registered_model_permission("adopt-model", "alice", "MANAGE")
    client.create_registered_model("adopt-private", description="not for alice")
    auth.create_registered_model_permission("adopt-private", "alice", "NO_PERMISSIONS")
    json.dump({"alice_password": password, "experiments": experiments,
               "run_in_b": second.info.run_id}, sys.stdout)


if __name__ == "__main__":
    main()
