"""Everything a client sees of the adoption data set, as JSON on stdout, read through MLflow's own
client of whichever version runs it (2.x before the adoption, the image's 3.x after).

Artifact and source locations are printed apart ("locations"), since adopting rewrites them;
everything else must be equal before and after.
"""

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities import ViewType

client = MlflowClient()
# Tags the server sets from the client's environment are the data set's too; none differ by version.


def artifacts(run_id, path=None):
    found = {}
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found.update(artifacts(run_id, item.path))
        else:
            with tempfile.TemporaryDirectory() as tmp:
                local = client.download_artifacts(run_id, item.path, tmp)
                found[item.path] = hashlib.sha256(Path(local).read_bytes()).hexdigest()
    return found


def run_view(run):
    data = run.data
    return {
        "name": run.info.run_name,
        "status": run.info.status,
        "lifecycle": run.info.lifecycle_stage,
        "start": run.info.start_time,
        "end": run.info.end_time,
        "params": data.params,
        "metrics": data.metrics,
        "tags": data.tags,
        "history": {
            key: sorted((m.step, m.value, m.timestamp) for m in client.get_metric_history(run.info.run_id, key))
            for key in data.metrics
        },
        "artifacts": artifacts(run.info.run_id) if run.info.lifecycle_stage == "active" else None,
    }


def main():
    out = {"experiments": {}, "runs": {}, "models": {}, "locations": {}}
    for exp in client.search_experiments(view_type=ViewType.ALL):
        if exp.name == "Default":
            continue
        out["experiments"][exp.experiment_id] = {"name": exp.name, "tags": exp.tags,
                                                 "lifecycle": exp.lifecycle_stage}
        out["locations"][f"experiment {exp.name}"] = exp.artifact_location
        for run in client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL,
                                      max_results=1000):
            out["runs"][run.info.run_id] = run_view(run)
            out["locations"][f"run {run.info.run_id}"] = run.info.artifact_uri
    for model in client.search_registered_models():
        versions = {}
        for mv in client.search_model_versions(f"name='{model.name}'"):
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(mlflow.artifacts.download_artifacts(
                    f"models:/{model.name}/{mv.version}", dst_path=tmp))
                files = {str(p.relative_to(local)): hashlib.sha256(p.read_bytes()).hexdigest()
                         for p in sorted(local.rglob("*")) if p.is_file()}
            versions[mv.version] = {"run_id": mv.run_id, "stage": mv.current_stage,
                                    "tags": mv.tags, "description": mv.description,
                                    "status": mv.status, "files": files}
            out["locations"][f"model {model.name}/{mv.version}"] = mv.source
        aliases = client.get_registered_model(model.name).aliases
        out["models"][model.name] = {"description": model.description, "tags": model.tags,
                                     "aliases": aliases, "versions": versions}
    # Last line of stdout: the client prints its own notes before.
    sys.stdout.write("\n" + json.dumps(out, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
