"""A known MLflow data set, logged with MLflow's own client, and a snapshot of everything a
tracking server (or a file store) gives back for it, keyed by names rather than ids so that two
stores can be compared: experiments, runs (nested), params, every metric point (step,
timestamp, value), tags, artifacts (bytes' SHA-256), registered models with versions, aliases
and tags, and (with basic auth) users and their permissions."""

import hashlib
import os
import tempfile
from pathlib import Path

# Tags MLflow sets by itself that differ between two logging sessions, not data to compare.
VOLATILE_RUN_TAGS = {"mlflow.source.name", "mlflow.source.git.commit", "mlflow.user",
                     "mlflow.source.type"}
IMPORT_TAG_PREFIX = "mlflow-kit.import."


def client_for(uri, username=None, password=None):
    """An MlflowClient on uri; credentials through the environment, as MLflow reads them."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if username:
        os.environ["MLFLOW_TRACKING_USERNAME"] = username
        os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    import mlflow
    from mlflow import MlflowClient

    # MLflow's file registry resolves logged models through the process's default client
    # (sqlite:///mlflow.db in the working directory unless set).
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def log_known_set(client, workdir, metric_points=200, runs_per_experiment=3):
    """Two experiments (tags, a description), runs with a nested child each, params, metrics
    with steps and explicit timestamps, tags, artifacts in folders, a registered model with
    two versions, an alias and tags. Returns the names it made."""
    from mlflow.entities import Metric, Param, RunTag

    workdir = Path(workdir)
    made = {"experiments": [], "model": "kit-model"}
    for e in range(2):
        name = f"drill-experiment-{e}"
        exp_id = client.create_experiment(name, tags={"team": f"team-{e}", "mlflow.note.content": f"about {name}"})
        made["experiments"].append(name)
        for r in range(runs_per_experiment):
            run = client.create_run(exp_id, run_name=f"run-{e}-{r}", start_time=1_700_000_000_000 + r * 1000,
                                    tags={"kind": "parent", "index": str(r)})
            rid = run.info.run_id
            params = [Param(f"param_{i}", f"value-{e}-{r}-{i}") for i in range(5)]
            metrics = [Metric("loss", 1.0 / (s + 1), 1_700_000_000_000 + s * 10, s) for s in range(metric_points)]
            metrics += [Metric("accuracy", s / metric_points, 1_700_000_000_000 + s * 10, s) for s in range(0, metric_points, 7)]
            # Two values at one step (a re-logged point) must both come back.
            metrics += [Metric("lr", 0.1, 1_700_000_000_001, 0), Metric("lr", 0.05, 1_700_000_000_002, 0)]
            for i in range(0, len(metrics), 1000):
                client.log_batch(rid, metrics=metrics[i:i + 1000])
            client.log_batch(rid, params=params, tags=[RunTag("stage", "train")])
            art = workdir / f"art-{e}-{r}"
            (art / "plots").mkdir(parents=True)
            (art / "summary.txt").write_text(f"summary of run {e}-{r}\n")
            (art / "plots" / "curve.bin").write_bytes(hashlib.sha256(f"{e}{r}".encode()).digest() * 4096)
            client.log_artifacts(rid, str(art))
            child = client.create_run(exp_id, run_name=f"run-{e}-{r}-child",
                                      tags={"mlflow.parentRunId": rid, "kind": "child"},
                                      start_time=1_700_000_000_500 + r * 1000)
            client.log_metric(child.info.run_id, "child_score", 0.5 + r, timestamp=1_700_000_000_600, step=3)
            client.log_param(child.info.run_id, "depth", "2")
            client.set_terminated(child.info.run_id, "FINISHED", end_time=1_700_000_000_900 + r * 1000)
            client.set_terminated(rid, "FINISHED" if r else "FAILED", end_time=1_700_000_001_000 + r * 1000)
    # A registered model with two versions from the first experiment's runs.
    client.create_registered_model(made["model"], tags={"owner": "drill"}, description="the drill's model")
    first = client.search_runs([client.get_experiment_by_name(made["experiments"][0]).experiment_id],
                               filter_string="tags.kind = 'parent'", order_by=["attributes.start_time ASC"])
    for v, run in enumerate(first[:2]):
        mv = client.create_model_version(made["model"], f"runs:/{run.info.run_id}/plots", run_id=run.info.run_id,
                                         tags={"version_note": f"v{v + 1}"}, description=f"version {v + 1}")
        assert int(mv.version) == v + 1
    client.set_registered_model_alias(made["model"], "champion", "2")
    return made


def _runs(client, experiment_id, active_only=False):
    from mlflow.entities import ViewType

    view = ViewType.ACTIVE_ONLY if active_only else ViewType.ALL
    found, token = [], None
    for _ in range(1000):  # bounded pagination
        page = client.search_runs([experiment_id], run_view_type=view, max_results=1000, page_token=token)
        found += list(page)
        token = page.token
        if not token:
            return found
    raise RuntimeError("search_runs did not end within 1000 pages")


def _artifacts(client, run_id, path=None, workdir=None):
    files = {}
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            files.update(_artifacts(client, run_id, info.path, workdir))
        else:
            local = client.download_artifacts(run_id, info.path, workdir)
            files[info.path] = hashlib.sha256(Path(local).read_bytes()).hexdigest()
    return files


def snapshot(client, experiment_names, model_names=(), drop_tag_prefixes=(IMPORT_TAG_PREFIX,), active_only=False):
    """Everything the store answers for these experiments and models, without ids. Two runs
    of one name in an experiment fail it (a duplicate would otherwise hide)."""
    with tempfile.TemporaryDirectory() as tmp:
        return _snapshot(client, experiment_names, model_names, drop_tag_prefixes, tmp, active_only)


def _snapshot(client, experiment_names, model_names, drop_tag_prefixes, tmp, active_only):
    keep = lambda k: k not in VOLATILE_RUN_TAGS and not k.startswith(tuple(drop_tag_prefixes))  # noqa: E731
    out = {"experiments": {}, "models": {}}
    run_names = {}
    for name in experiment_names:
        exp = client.get_experiment_by_name(name)
        assert exp is not None, f"experiment {name} is missing"
        runs = _runs(client, exp.experiment_id, active_only)
        names = [r.info.run_name for r in runs]
        assert len(names) == len(set(names)), f"{name}: runs of one name: {sorted(names)}"
        run_names.update({r.info.run_id: r.info.run_name for r in runs})
        out["experiments"][name] = {
            "tags": {k: v for k, v in exp.tags.items() if keep(k)},
            "lifecycle": exp.lifecycle_stage,
            "runs": {},
        }
        for run in runs:
            metrics = {}
            for key in run.data.metrics:
                history = client.get_metric_history(run.info.run_id, key)
                # Distinct points: the server stores one row per (step, timestamp, value) of a
                # key, where a file store may hold a line twice (log_model re-logs the latest).
                metrics[key] = sorted({(m.step, m.timestamp, m.value) for m in history})
            tags = {k: v for k, v in run.data.tags.items() if keep(k)}
            if "mlflow.parentRunId" in tags:
                tags["mlflow.parentRunId"] = run_names.get(tags["mlflow.parentRunId"], "?" + tags["mlflow.parentRunId"])
            out["experiments"][name]["runs"][run.info.run_name] = {
                "status": run.info.status,
                "start": run.info.start_time,
                "end": run.info.end_time,
                "lifecycle": run.info.lifecycle_stage,
                "params": dict(run.data.params),
                "metrics": metrics,
                "tags": tags,
                "artifacts": _artifacts(client, run.info.run_id, workdir=tmp),
            }
    for name in model_names:
        model = client.get_registered_model(name)
        versions = client.search_model_versions(f"name = '{name}'")
        out["models"][name] = {
            # The server answers "" where the file store has None.
            "description": model.description or "",
            "tags": {k: v for k, v in model.tags.items() if keep(k)},
            "aliases": {k: str(v) for k, v in model.aliases.items()},
            "versions": {
                str(mv.version): {"run": run_names.get(mv.run_id, mv.run_id), "status": mv.status,
                             "description": mv.description or "",
                             "tags": {k: v for k, v in mv.tags.items() if keep(k)},
                             "source": _source(client, mv.source)}
                for mv in versions
            },
        }
    return out


def _source(client, source):
    """What a version's source names, without ids: a run's path, or a logged model's name
    and the SHA-256 of its files."""
    if source.startswith("models:/m-"):
        model = client.get_logged_model(source[len("models:/"):])
        with tempfile.TemporaryDirectory() as tmp:
            import mlflow

            # models:/ URIs resolve through the process's tracking and registry URIs.
            uri = client._tracking_client.tracking_uri
            mlflow.set_tracking_uri(uri)
            mlflow.set_registry_uri(uri)
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=tmp))
            files = {str(p.relative_to(local)): hashlib.sha256(p.read_bytes()).hexdigest()
                     for p in sorted(local.rglob("*")) if p.is_file()}
        return {"logged_model": model.name, "files": files}
    return {"run_path": source.split("/", 3)[-1] if source.startswith("runs:/") else source.rsplit("/", 1)[-1]}


def count_points(snap):
    return sum(len(h) for e in snap["experiments"].values() for r in e["runs"].values()
               for h in r["metrics"].values())


def differences(a, b, path="", limit=20):
    """Where two snapshots differ (paths and both values), the first `limit` of them."""
    found = []
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                found.append(f"{path}/{key}: only in {'second' if key not in a else 'first'}")
            else:
                found += differences(a[key], b[key], f"{path}/{key}", limit)
            if len(found) >= limit:
                break
    elif isinstance(a, list) and isinstance(b, list) and a != b:
        extra = [x for x in a if x not in b][:3]
        missing = [x for x in b if x not in a][:3]
        found.append(f"{path}: {len(a)} vs {len(b)} items; only in first {extra}; only in second {missing}")
    elif a != b:
        found.append(f"{path}: {str(a)[:200]} != {str(b)[:200]}")
    return found[:limit]
