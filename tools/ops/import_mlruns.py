"""Brings the runs of an MLflow file store (./mlruns, as `mlflow ui` leaves it on a laptop) into
a deployed tracking server through its REST API, with MLflow's own client on both sides: the
file store read by MLflow's FileStore, the server written with log_batch.

    python tools/ops/import_mlruns.py --from ./mlruns [--workers 4]

The server and its credentials come from the environment: MLFLOW_TRACKING_URI,
MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (the kit's admin).

Copies experiments (tags), runs (name, status, start and end time, lifecycle), params, every
metric point with its step and timestamp, tags (a nested run's parent rewritten to the new
id), artifacts, logged models (MLflow 3's models:/m-... with their artifacts) and registered
models with their versions, tags, descriptions and aliases.

Idempotent: each imported run carries the tag mlflow-kit.import.source-run-id, and the tag
mlflow-kit.import.complete once all of it is in; a second import skips complete runs, and
deletes and redoes a run an interrupted import left incomplete. Logged models and model
versions carry mlflow-kit.import.source-model-id / source-version the same way.
"""

import argparse
import concurrent.futures
import os
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

SOURCE_RUN = "mlflow-kit.import.source-run-id"
COMPLETE = "mlflow-kit.import.complete"
SOURCE_EXPERIMENT = "mlflow-kit.import.source-experiment-id"
SOURCE_MODEL = "mlflow-kit.import.source-model-id"
SOURCE_VERSION = "mlflow-kit.import.source-version"
PARENT = "mlflow.parentRunId"
# MLflow's per-request limits (mlflow.utils.validation): 1000 metrics, 100 params, 100 tags.
METRICS_PER_BATCH = 1000
PARAMS_PER_BATCH = 100
TAGS_PER_BATCH = 100
MAX_PAGES = 100_000  # bounded pagination: 100 million runs at 1000 a page


class ImportError_(Exception):
    """A refusal, in words that name the setting and the fix."""


def clients(source_dir):
    """(file store client, server client)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # MLflow 3.17 keeps its file store in maintenance mode: reading it needs this opt-in.
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow import MlflowClient

    source = Path(source_dir).resolve()
    if not (source.is_dir() and (source / "0").is_dir() or any(source.glob("*/meta.yaml"))):
        raise ImportError_(f"--from: {source_dir} is not an MLflow file store (no experiment "
                           "folders with meta.yaml). Give the mlruns folder `mlflow ui` used")
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        raise ImportError_("MLFLOW_TRACKING_URI: is not an http(s) URL of the tracking server. Set "
                           "it to the stack's trackingUri output (npm run import does)")
    import mlflow

    # The file registry resolves logged models through the process's default client, which
    # would otherwise be a new sqlite:///mlflow.db in the working directory.
    mlflow.set_tracking_uri(source.as_uri())
    mlflow.set_registry_uri(source.as_uri())
    src = MlflowClient(tracking_uri=source.as_uri(), registry_uri=source.as_uri())
    dst = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return src, dst, source


def pages(fetch):
    token = None
    for _ in range(MAX_PAGES):
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return
    raise ImportError_("a listing did not end within the page limit")


def all_runs(client, experiment_id, view):
    return list(pages(lambda t: client.search_runs([experiment_id], run_view_type=view,
                                                   max_results=1000, page_token=t)))


def chunks(items, size):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def local_artifacts(source_root, experiment_id, run):
    """The run's artifact folder. A file store moved since (another laptop, a copied folder)
    still names its old absolute path: then the folder beside the run's meta.yaml."""
    parts = urlsplit(run.info.artifact_uri)
    if parts.scheme in ("", "file"):
        recorded = Path(unquote(parts.path))
        if recorded.is_dir():
            return recorded
    beside = source_root / experiment_id / run.info.run_id / "artifacts"
    return beside if beside.is_dir() else None


class Importer:
    def __init__(self, src, dst, source_root, workers=4, log=print):
        self.src, self.dst, self.root = src, dst, source_root
        self.workers = workers
        self.log = log
        self.run_ids = {}  # source run id -> server run id
        self.model_ids = {}  # source logged model id -> server logged model id
        self.stats = {"experiments": 0, "runs_imported": 0, "runs_skipped": 0, "runs_redone": 0,
                      "metric_points": 0, "model_versions": 0}

    # --- experiments and runs -----------------------------------------------------------

    def experiment(self, exp):
        from mlflow.entities import ViewType

        found = self.dst.get_experiment_by_name(exp.name)
        if found is None:
            tags = {k: v for k, v in exp.tags.items()}
            tags[SOURCE_EXPERIMENT] = exp.experiment_id
            dst_id = self.dst.create_experiment(exp.name, tags=tags)
        elif found.lifecycle_stage == "deleted":
            raise ImportError_(f"experiment {exp.name!r} is deleted on the server; restore it "
                               "(mlflow experiments restore) or rename one of them, then import again")
        else:
            dst_id = found.experiment_id
            for k, v in exp.tags.items():
                if found.tags.get(k) != v:
                    self.dst.set_experiment_tag(dst_id, k, v)
        self.stats["experiments"] += 1
        existing = {}
        for run in all_runs(self.dst, dst_id, ViewType.ACTIVE_ONLY):
            if SOURCE_RUN in run.data.tags:
                existing[run.data.tags[SOURCE_RUN]] = run
        runs = all_runs(self.src, exp.experiment_id, ViewType.ALL)
        # Parents before children: a child's parent tag needs the parent's new id.
        by_id = {r.info.run_id: r for r in runs}

        def depth(run, seen=0):
            parent = run.data.tags.get(PARENT)
            return 0 if parent not in by_id or seen > 100 else 1 + depth(by_id[parent], seen + 1)

        levels = {}
        for run in runs:
            levels.setdefault(depth(run), []).append(run)
        for level in sorted(levels):
            with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
                list(pool.map(lambda r: self.run(exp.experiment_id, dst_id, r, existing.get(r.info.run_id)),
                              levels[level]))
        return dst_id

    def run(self, src_exp_id, dst_exp_id, run, existing):
        from mlflow.entities import Metric, Param, RunTag

        rid = run.info.run_id
        if existing is not None:
            if existing.data.tags.get(COMPLETE) == "true":
                self.run_ids[rid] = existing.info.run_id
                # Its parent was redone (below) in this import: point it at the new one.
                parent = self.run_ids.get(run.data.tags.get(PARENT))
                if parent and existing.data.tags.get(PARENT) != parent:
                    self.dst.set_tag(existing.info.run_id, PARENT, parent)
                self.stats["runs_skipped"] += 1
                return
            # Left half done by an interrupted import: its points would be logged twice.
            self.dst.delete_run(existing.info.run_id)
            self.stats["runs_redone"] += 1
        tags = dict(run.data.tags)
        if PARENT in tags:
            tags[PARENT] = self.run_ids.get(tags[PARENT], tags[PARENT])
        tags[SOURCE_RUN] = rid
        created = self.dst.create_run(dst_exp_id, start_time=run.info.start_time, tags=tags,
                                      run_name=run.info.run_name)
        new = created.info.run_id
        params = [Param(k, v) for k, v in run.data.params.items()]
        for batch in chunks(params, PARAMS_PER_BATCH):
            self.dst.log_batch(new, params=batch)
        points = {}
        for key in run.data.metrics:
            for m in self.src.get_metric_history(rid, key):
                # MLflow 3's log_model logs the run's latest values again, linked to the logged
                # model (model_id): in the file store a second line, on the server the same
                # row (its key is run, key, step, timestamp, value), so one point here. The
                # link to the model is left out: the logged model gets a new id.
                points[(m.key, m.step, m.timestamp, m.value)] = Metric(m.key, m.value, m.timestamp, m.step)
        points = list(points.values())
        for batch in chunks(points, METRICS_PER_BATCH):
            self.dst.log_batch(new, metrics=batch)
        self.stats["metric_points"] += len(points)
        folder = local_artifacts(self.root, src_exp_id, run)
        if folder is not None and any(folder.iterdir()):
            self.dst.log_artifacts(new, str(folder))
        if run.info.status != "RUNNING" or run.info.end_time:
            self.dst.set_terminated(new, run.info.status, end_time=run.info.end_time)
        self.dst.log_batch(new, tags=[RunTag(COMPLETE, "true")])
        if run.info.lifecycle_stage == "deleted":
            self.dst.delete_run(new)
        self.run_ids[rid] = new
        self.stats["runs_imported"] += 1

    # --- models ---------------------------------------------------------------------------

    def logged_models(self, src_exp_id, dst_exp_id):
        """MLflow 3's logged models (models:/m-...) of one experiment, with their artifacts."""
        from mlflow.entities import LoggedModelStatus

        existing = {m.tags.get(SOURCE_MODEL): m.model_id
                    for m in pages(lambda t: self.dst.search_logged_models([dst_exp_id], max_results=100, page_token=t))
                    if m.tags.get(SOURCE_MODEL) and m.status == LoggedModelStatus.READY}
        for model in pages(lambda t: self.src.search_logged_models([src_exp_id], max_results=100, page_token=t)):
            if model.model_id in existing:
                self.model_ids[model.model_id] = existing[model.model_id]
                continue
            created = self.dst.create_logged_model(
                dst_exp_id, name=model.name, source_run_id=self.run_ids.get(model.source_run_id),
                tags={**model.tags, SOURCE_MODEL: model.model_id},
                params=dict(model.params or {}), model_type=model.model_type)
            folder = self.root / src_exp_id / "models" / model.model_id / "artifacts"
            if folder.is_dir():
                self.dst.log_model_artifacts(created.model_id, str(folder))
            self.dst.finalize_logged_model(created.model_id, LoggedModelStatus.READY)
            self.model_ids[model.model_id] = created.model_id

    def registered_models(self):
        for model in pages(lambda t: self.src.search_registered_models(max_results=100, page_token=t)):
            name = model.name
            try:
                dst_model = self.dst.get_registered_model(name)
            except Exception:  # RESOURCE_DOES_NOT_EXIST
                dst_model = self.dst.create_registered_model(name, tags=dict(model.tags), description=model.description)
            for k, v in model.tags.items():
                if dst_model.tags.get(k) != v:
                    self.dst.set_registered_model_tag(name, k, v)
            if (model.description or "") != (dst_model.description or ""):
                self.dst.update_registered_model(name, description=model.description)
            done = {mv.tags.get(SOURCE_VERSION): mv.version
                    for mv in pages(lambda t: self.dst.search_model_versions(f"name = '{name}'", page_token=t))}
            versions = sorted(pages(lambda t: self.src.search_model_versions(f"name = '{name}'", page_token=t)),
                              key=lambda mv: int(mv.version))
            mapped = {}
            for mv in versions:
                # The file store numbers versions as int, the REST API as strings.
                number = str(mv.version)
                if number in done:
                    mapped[number] = done[number]
                    continue
                source, model_id = self.version_source(mv)
                created = self.dst.create_model_version(
                    name, source, run_id=self.run_ids.get(mv.run_id), tags={**mv.tags, SOURCE_VERSION: number},
                    description=mv.description, model_id=model_id)
                mapped[number] = created.version
                if mv.current_stage and mv.current_stage != "None":
                    self.dst.transition_model_version_stage(name, created.version, mv.current_stage)
                self.stats["model_versions"] += 1
            # Listings leave aliases out; the model itself has them.
            for alias, version in (self.src.get_registered_model(name).aliases or {}).items():
                version = str(version)
                if version in mapped:
                    self.dst.set_registered_model_alias(name, alias, mapped[version])

    def version_source(self, mv):
        """Where the server's version points: the imported run or logged model."""
        source = mv.source
        if source.startswith("runs:/"):
            run_id, _, path = source[len("runs:/"):].partition("/")
            return f"runs:/{self.run_ids.get(run_id, run_id)}/{path}", None
        if source.startswith("models:/m-"):
            model_id = source[len("models:/"):].split("/")[0]
            new = self.model_ids.get(model_id)
            if new:
                return f"models:/{new}", new
        if mv.run_id and mv.run_id in self.run_ids:
            # A file path inside the run's artifacts, as older clients recorded it.
            marker = f"/{mv.run_id}/artifacts/"
            if marker in source:
                return f"runs:/{self.run_ids[mv.run_id]}/{source.split(marker, 1)[1]}", None
        raise ImportError_(f"model {mv.name} version {mv.version}: its source {source!r} is neither "
                           "a run's artifact nor a logged model of this file store, so the server "
                           "could not serve it; import that model's files first")


def import_store(source_dir, workers=4, log=print):
    from mlflow.entities import ViewType

    src, dst, root = clients(source_dir)
    importer = Importer(src, dst, root, workers, log)
    started = time.monotonic()
    experiments = list(pages(lambda t: src.search_experiments(view_type=ViewType.ACTIVE_ONLY,
                                                             max_results=1000, page_token=t)))
    for exp in experiments:
        t0 = time.monotonic()
        dst_id = importer.experiment(exp)
        importer.logged_models(exp.experiment_id, dst_id)
        log(f"[import] experiment {exp.name!r}: done in {time.monotonic() - t0:.1f} s")
    importer.registered_models()
    importer.stats["seconds"] = round(time.monotonic() - started, 3)
    runs = importer.stats["runs_imported"]
    importer.stats["runs_per_second"] = round(runs / importer.stats["seconds"], 2) if runs else 0
    log("[import] " + ", ".join(f"{k} {v}" for k, v in importer.stats.items()))
    return importer.stats


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", required=True, help="the mlruns folder")
    parser.add_argument("--workers", type=int, default=4, choices=range(1, 17), metavar="1-16")
    args = parser.parse_args(argv)
    try:
        import_store(args.source, args.workers)
    except ImportError_ as err:
        print(f"mlflow-kit import: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
