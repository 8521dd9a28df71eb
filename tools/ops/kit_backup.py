"""A logical backup of one MLflow deployment: both databases (tracking and auth) and the
artifact objects, into a directory, and its restore into another database pair and bucket.

    python tools/ops/kit_backup.py backup  --out DIR [--artifacts copy|versions]
    python tools/ops/kit_backup.py restore --from DIR

What to back up or restore into comes from the environment, never the command line (the URIs
hold passwords): MLFLOW_KIT_TRACKING_DB_URI, MLFLOW_KIT_AUTH_DB_URI,
MLFLOW_KIT_ARTIFACTS_DESTINATION (s3://bucket/prefix), and for S3 the usual AWS_* variables
with MLFLOW_S3_ENDPOINT_URL for a non-AWS endpoint (MinIO, an emulator). Optional:
MLFLOW_KIT_PG_BIN (the directory of pg_dump/pg_restore; PATH otherwise; as new as the server).

Databases: pg_dump's custom format (-Fc), without owners and grants, so that the restore gives
every object to the role that restores it (the target's application role, which owns its
databases); pg_restore in one transaction, so a failed restore leaves the target as it was.
Artifacts: `copy` downloads every object under the prefix into DIR/artifacts; `versions`
records each object's S3 version id (the bucket must be versioned) and leaves the bytes where
they are, and the restore copies exactly those versions server side: the bucket keeps them
for its noncurrent-version days even when they are overwritten or deleted later.

manifest.json records what was taken (the dumps' SHA-256, MLflow's schema revisions, every
object); the restore checks the dumps against it before it touches anything, and refuses a
target that already holds data (runs, users beyond the admin, objects under the prefix).
"""

import argparse
import concurrent.futures
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

FORMAT = 1
# Bounded: one pg_dump or pg_restore of a large database, one object transfer.
PG_TIMEOUT_SECONDS = 3600
OBJECT_WORKERS = 8
DATABASES = ("tracking", "auth")


class BackupError(Exception):
    """A refusal or failure, in words that name the setting and the fix."""


# --- settings -------------------------------------------------------------------------------


def required_env(name, hint):
    value = os.environ.get(name)
    if not value:
        raise BackupError(f"{name}: is not set. {hint}")
    return value


def database_uris():
    hint = "Give the database's URI (postgresql://user:password@host:port/name) in the environment"
    return {
        "tracking": required_env("MLFLOW_KIT_TRACKING_DB_URI", hint),
        "auth": required_env("MLFLOW_KIT_AUTH_DB_URI", hint),
    }


def split_destination(destination):
    parts = urlsplit(destination)
    if parts.scheme != "s3" or not parts.netloc:
        raise BackupError(f"MLFLOW_KIT_ARTIFACTS_DESTINATION: {destination!r} is not an "
                          "s3://bucket/prefix URI. Give the stack's artifactsDestination output")
    return parts.netloc, parts.path.strip("/")


def libpq_target(uri):
    """(URI without password, environment with PGPASSWORD): the password stays out of the
    process list. SQLAlchemy's driver suffix (postgresql+psycopg2) is not libpq's."""
    parts = urlsplit(uri)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise BackupError(f"a database URI has the scheme {parts.scheme!r}; mlflow-kit's "
                          "databases are PostgreSQL (postgresql://...)")
    env = dict(os.environ)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        netloc = f"{unquote(parts.username)}@{netloc}"
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
    return urlunsplit((scheme, netloc, parts.path, parts.query, "")), env


def pg_tool(name):
    directory = os.environ.get("MLFLOW_KIT_PG_BIN")
    path = Path(directory) / name if directory else shutil.which(name)
    if not path or not Path(path).exists():
        raise BackupError(f"{name}: not found ({'MLFLOW_KIT_PG_BIN=' + directory if directory else 'PATH'}). "
                          "Install PostgreSQL's client (apt-get install postgresql-client) as new "
                          "as the server, or point MLFLOW_KIT_PG_BIN at its bin directory")
    return str(path)


def run_pg(cmd, env, what):
    out = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=PG_TIMEOUT_SECONDS)
    if out.returncode != 0:
        # libpq's messages name the host and database, never the password.
        raise BackupError(f"{what} failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    return out.stdout


def sql(uri, statement):
    import psycopg2

    conn = psycopg2.connect(uri.replace("postgresql+psycopg2://", "postgresql://", 1),
                            connect_timeout=20)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall()
    finally:
        conn.close()


def table_exists(uri, table):
    return sql(uri, f"SELECT to_regclass('public.{table}') IS NOT NULL")[0][0]


# MLflow's auth app keeps its Alembic revision in a table of its own.
VERSION_TABLES = {"tracking": "alembic_version", "auth": "alembic_version_auth"}


def schema_revision(uri, database):
    table = VERSION_TABLES[database]
    return sql(uri, f"SELECT version_num FROM {table}")[0][0] if table_exists(uri, table) else None


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def s3_client():
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None
    return boto3.client("s3", endpoint_url=endpoint,
                        config=Config(retries={"max_attempts": 5, "mode": "standard"},
                                      max_pool_connections=OBJECT_WORKERS * 2))


def list_objects(client, bucket, prefix):
    """Current objects under prefix/ (key relative to the prefix, size, etag)."""
    found = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
        for obj in page.get("Contents", []):
            found.append({"key": obj["Key"][len(prefix) + 1 if prefix else 0:],
                          "size": obj["Size"], "etag": obj["ETag"].strip('"')})
    return found


def current_versions(client, bucket, prefix):
    """key -> the version id of each current object (a versioned bucket)."""
    status = client.get_bucket_versioning(Bucket=bucket).get("Status")
    if status != "Enabled":
        raise BackupError(f"--artifacts versions: bucket {bucket} is not versioned (versioning "
                          f"{status or 'never enabled'}), so later writes would overwrite what the "
                          "backup points at. Use --artifacts copy, or enable versioning (the kit's "
                          "S3 buckets have it)")
    versions = {}
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
        for version in page.get("Versions", []):
            if version["IsLatest"]:
                versions[version["Key"][len(prefix) + 1 if prefix else 0:]] = version["VersionId"]
    return versions


def parallel(items, work, what):
    """Runs work(item) on OBJECT_WORKERS threads; the first failure stops the rest."""
    with concurrent.futures.ThreadPoolExecutor(OBJECT_WORKERS) as pool:
        futures = [pool.submit(work, item) for item in items]
        for future in concurrent.futures.as_completed(futures):
            try:
                future.result()
            except Exception as err:
                for other in futures:
                    other.cancel()
                raise BackupError(f"{what} failed: {err}") from err


# --- backup ---------------------------------------------------------------------------------


def backup(out_dir, artifacts_mode="copy", source=None, log=print, databases="dump"):
    """databases: "dump" (pg_dump here), "dumped" (the caller left tracking.dump and auth.dump
    in out_dir, e.g. pg_dump inside the local stack's PostgreSQL container), or "none" (the
    store keeps them: an RDS snapshot, a Neon point in time)."""
    out = Path(out_dir)
    present = {p.name for p in out.iterdir()} if out.exists() else set()
    expected_present = {f"{name}.dump" for name in DATABASES} if databases == "dumped" else set()
    if present != expected_present:
        raise BackupError(f"--out: {out} is not empty; a backup goes into a new directory"
                          if not expected_present else
                          f"--databases dumped: {out} must hold exactly tracking.dump and auth.dump")
    if artifacts_mode not in ("copy", "versions"):
        raise BackupError(f"--artifacts: {artifacts_mode!r}; use copy or versions")
    uris = database_uris() if databases != "none" else {}
    destination = required_env("MLFLOW_KIT_ARTIFACTS_DESTINATION",
                               "Give the stack's artifactsDestination (s3://bucket/prefix)")
    bucket, prefix = split_destination(destination)
    client = s3_client()
    # Unreachable or denied: fail before any dump. A listing of the prefix, not HeadBucket,
    # which a user held to the prefix (the kit's artifact user) may not do.
    client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "", MaxKeys=1)
    pg_dump = pg_tool("pg_dump") if databases == "dump" else None
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    manifest = {"format": FORMAT, "createdAt": now_iso(), "source": source or {},
                "databases": {} if databases != "none" else None,
                "artifacts": {"mode": artifacts_mode, "destination": destination}}

    for name in DATABASES if databases != "none" else ():
        target, env = libpq_target(uris[name])
        dump = out / f"{name}.dump"
        t0 = time.monotonic()
        if pg_dump:
            run_pg([pg_dump, "--format=custom", "--no-owner", "--no-privileges", "--file", str(dump),
                    "--dbname", target], env, f"pg_dump of the {name} database")
        elif dump.stat().st_size == 0:
            raise BackupError(f"--databases dumped: {dump} is empty")
        manifest["databases"][name] = {"file": dump.name, "sha256": sha256_file(dump),
                                       "bytes": dump.stat().st_size,
                                       "schemaRevision": schema_revision(uris[name], name)}
        log(f"[backup] {name} database: {dump.stat().st_size} bytes in {time.monotonic() - t0:.1f} s")

    t0 = time.monotonic()
    # Versions first: every object listed afterwards has its version recorded.
    versions = current_versions(client, bucket, prefix) if artifacts_mode == "versions" else {}
    objects = list_objects(client, bucket, prefix)
    if artifacts_mode == "versions":
        objects = [dict(o, versionId=versions[o["key"]]) for o in objects if o["key"] in versions]
    else:
        root = out / "artifacts"

        def download(obj):
            path = root / obj["key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, f"{prefix}/{obj['key']}" if prefix else obj["key"], str(path))
            if path.stat().st_size != obj["size"]:
                raise BackupError(f"artifact {obj['key']}: {path.stat().st_size} bytes downloaded, "
                                  f"{obj['size']} listed")

        parallel(objects, download, "downloading the artifacts")
    manifest["artifacts"]["objects"] = objects
    log(f"[backup] artifacts: {len(objects)} objects ({artifacts_mode}) in {time.monotonic() - t0:.1f} s")
    manifest["seconds"] = round(time.monotonic() - started, 3)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


# --- restore --------------------------------------------------------------------------------


def read_manifest(backup_dir):
    path = Path(backup_dir) / "manifest.json"
    if not path.exists():
        raise BackupError(f"--from: {backup_dir} has no manifest.json; name a directory that "
                          "`backup` wrote")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"--from: manifest format {manifest.get('format')!r}; this tool reads {FORMAT}")
    for name in DATABASES if manifest["databases"] else ():
        entry = manifest["databases"][name]
        dump = Path(backup_dir) / entry["file"]
        if not dump.exists() or sha256_file(dump) != entry["sha256"]:
            raise BackupError(f"--from: {dump} is missing or does not match its SHA-256 in "
                              "manifest.json: the backup is damaged; restore another one")
    if manifest["artifacts"]["mode"] == "copy":
        root = Path(backup_dir) / "artifacts"
        for obj in manifest["artifacts"]["objects"]:
            path = root / obj["key"]
            if not path.is_file() or path.stat().st_size != obj["size"]:
                raise BackupError(f"--from: artifact {obj['key']} is missing from {root} or has "
                                  "another size than manifest.json says: the backup is damaged")
    return manifest


def target_problems(uris, client, bucket, prefix):
    """What would be overwritten in the target; empty when it is new (or only migrated)."""
    problems = []
    if uris and table_exists(uris["tracking"], "runs"):
        runs = sql(uris["tracking"], "SELECT count(*) FROM runs")[0][0]
        experiments = sql(uris["tracking"], "SELECT count(*) FROM experiments WHERE experiment_id <> 0")[0][0]
        models = sql(uris["tracking"], "SELECT count(*) FROM registered_models")[0][0] \
            if table_exists(uris["tracking"], "registered_models") else 0
        if runs or experiments or models:
            problems.append(f"the target tracking database holds {runs} runs, {experiments} "
                            f"experiments and {models} registered models")
    if uris and table_exists(uris["auth"], "users"):
        users = sql(uris["auth"], "SELECT count(*) FROM users")[0][0]
        # The admin the server creates on its first start is the only user of a new stack.
        if users > 1:
            problems.append(f"the target auth database holds {users} users")
    objects = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "", MaxKeys=1)
    if objects.get("KeyCount", 0):
        problems.append(f"s3://{bucket}/{prefix} holds objects")
    return problems


PARTS = ("check", "databases", "artifacts")


def restore(backup_dir, log=print, parts=PARTS):
    """parts: check (the target is new), databases (pg_restore here), artifacts. The local
    stack's restore runs pg_restore inside its PostgreSQL container between check and
    artifacts; a store-native backup (no dumps) restores its artifacts only."""
    manifest = read_manifest(backup_dir)
    if "databases" in parts and not manifest["databases"]:
        raise BackupError(f"--from: {backup_dir} holds no database dumps (its store keeps them: "
                          f"{manifest.get('source', {}).get('database', 'see manifest.json')}); "
                          "restore its artifacts with --only artifacts")
    # A store-native backup (no dumps) restores artifacts only: no database to reach here.
    uris = database_uris() if manifest["databases"] else {}
    destination = required_env("MLFLOW_KIT_ARTIFACTS_DESTINATION",
                               "Give the target stack's artifactsDestination (s3://bucket/prefix)")
    bucket, prefix = split_destination(destination)
    source_bucket, source_prefix = split_destination(manifest["artifacts"]["destination"])
    client = s3_client()
    pg_restore = pg_tool("pg_restore")
    problems = target_problems(uris, client, bucket, prefix) if "check" in parts else []
    if problems:
        raise BackupError("restore: the target is not new: " + "; ".join(problems) + ". Restore "
                          "into a new stack (or new databases and an empty prefix); nothing was changed")
    started = time.monotonic()

    for name in DATABASES if "databases" in parts else ():
        target, env = libpq_target(uris[name])
        t0 = time.monotonic()
        # --clean drops what a first server start migrated into an empty target; one
        # transaction: a failure leaves the target as it was.
        run_pg([pg_restore, "--no-owner", "--no-privileges", "--clean", "--if-exists",
                "--single-transaction", "--exit-on-error", "--dbname", target,
                str(Path(backup_dir) / manifest["databases"][name]["file"])],
               env, f"pg_restore of the {name} database")
        log(f"[restore] {name} database in {time.monotonic() - t0:.1f} s")
    # Whoever restored them (here, or pg_restore in the local stack's container): the
    # databases are at the backup's schema revisions.
    for name in DATABASES if uris and manifest["databases"] and "artifacts" in parts else ():
        revision = schema_revision(uris[name], name)
        if revision != manifest["databases"][name]["schemaRevision"]:
            raise BackupError(f"restore: the {name} database is at revision {revision}, the backup "
                              f"at {manifest['databases'][name]['schemaRevision']}")
    if "artifacts" not in parts:
        return {"seconds": round(time.monotonic() - started, 3), "objects": 0}

    t0 = time.monotonic()
    objects = manifest["artifacts"]["objects"]
    key = (lambda k: f"{prefix}/{k}") if prefix else (lambda k: k)
    if manifest["artifacts"]["mode"] == "copy":
        root = Path(backup_dir) / "artifacts"
        parallel(objects, lambda o: client.upload_file(str(root / o["key"]), bucket, key(o["key"])),
                 "uploading the artifacts")
    else:
        source_key = (lambda k: f"{source_prefix}/{k}") if source_prefix else (lambda k: k)
        parallel(objects, lambda o: client.copy(
            {"Bucket": source_bucket, "Key": source_key(o["key"]), "VersionId": o["versionId"]},
            bucket, key(o["key"])), "copying the artifact versions")
    restored = {o["key"]: o["size"] for o in list_objects(client, bucket, prefix)}
    missing = [o["key"] for o in objects if restored.get(o["key"]) != o["size"]]
    if missing:
        raise BackupError(f"restore: {len(missing)} artifacts are missing in s3://{bucket}/{prefix} "
                          f"after the copy, e.g. {missing[:3]}")
    log(f"[restore] artifacts: {len(objects)} objects in {time.monotonic() - t0:.1f} s")
    return {"seconds": round(time.monotonic() - started, 3), "objects": len(objects)}


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backup")
    b.add_argument("--out", required=True)
    b.add_argument("--artifacts", choices=("copy", "versions"), default="copy")
    b.add_argument("--databases", choices=("dump", "dumped", "none"), default="dump")
    b.add_argument("--source-json", default="{}", help="what to record as the source (stack, store)")
    r = sub.add_parser("restore")
    r.add_argument("--from", dest="source", required=True)
    r.add_argument("--only", choices=PARTS, action="append", help="some parts only (repeatable)")
    args = parser.parse_args(argv)
    try:
        if args.command == "backup":
            backup(args.out, args.artifacts, json.loads(args.source_json), databases=args.databases)
        else:
            restore(args.source, parts=tuple(args.only or PARTS))
    except BackupError as err:
        print(f"mlflow-kit {args.command}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
