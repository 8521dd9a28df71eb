"""The restore drill: a known data set logged with MLflow's client on the kit's server (real
entrypoint, real PostgreSQL, moto's S3), backed up by tools/ops/kit_backup.py, restored into a
new database pair and a new bucket, a server started on them, and everything compared with the
client: experiments, runs, params, every metric point, tags, artifacts' bytes, the registered
model's versions and alias, users (their passwords too) and permissions."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from dataset import client_for, log_known_set, snapshot

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "ops" / "kit_backup.py"
USERS = {"alice": "MANAGE", "bob": "READ"}


def run_tool(deployment, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_"))}
    env.update(deployment.tool_env())
    return subprocess.run([sys.executable, str(TOOL), *args], env=env, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)


def admin_client(server, deployment):
    return client_for(server.url, deployment.env["MLFLOW_ADMIN_USERNAME"], deployment.env["MLFLOW_ADMIN_PASSWORD"])


def auth_client(server, username, password):
    from mlflow.server.auth.client import AuthServiceClient

    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = username, password
    return AuthServiceClient(server.url)


def users_and_permissions(server, deployment, experiment_id, model):
    admin = auth_client(server, deployment.env["MLFLOW_ADMIN_USERNAME"], deployment.env["MLFLOW_ADMIN_PASSWORD"])
    found = {}
    for username in USERS:
        user = admin.get_user(username)
        found[username] = {
            "admin": user.is_admin,
            "experiment": admin.get_user_permission(username, "experiment", experiment_id).permission,
            "model": admin.get_user_permission(username, "registered_model", model).permission,
        }
    return found


def passwords_work(server, passwords):
    """Each user's own password opens the API (the stored hashes came along)."""
    return {u: requests.get(f"{server.url}/api/2.0/mlflow/experiments/search?max_results=1",
                            auth=(u, p), timeout=10).status_code for u, p in passwords.items()}


@pytest.fixture(scope="module")
def source(make_deployment, start_server, tmp_path_factory):
    """A stack with the known set logged, its users and permissions, and its snapshot."""
    deployment = make_deployment("drillsrc", versioned=True)
    server = start_server(deployment.env)
    client = admin_client(server, deployment)
    made = log_known_set(client, tmp_path_factory.mktemp("artifacts"))
    experiment_id = client.get_experiment_by_name(made["experiments"][0]).experiment_id
    admin = auth_client(server, deployment.env["MLFLOW_ADMIN_USERNAME"], deployment.env["MLFLOW_ADMIN_PASSWORD"])
    passwords = {}
    for username, permission in USERS.items():
        passwords[username] = "pw-" + username + "-" + deployment.creds.flask_secret_key[:12]
        admin.create_user(username, passwords[username])
        admin.grant_user_permission(username, "experiment", experiment_id, permission)
        admin.grant_user_permission(username, "registered_model", made["model"], permission)
    client = admin_client(server, deployment)
    snap = snapshot(client, made["experiments"], [made["model"]])
    return {
        "deployment": deployment, "server": server, "made": made, "snapshot": snap,
        "experiment_id": experiment_id, "passwords": passwords,
        "users": users_and_permissions(server, deployment, experiment_id, made["model"]),
    }


def assert_restored(source, target, start_server):
    server = start_server(target.env)
    client = admin_client(server, target)
    made = source["made"]
    restored = snapshot(client, made["experiments"], [made["model"]])
    assert restored == source["snapshot"]
    # The known set really is in there (a comparison of two empty snapshots would pass too).
    runs = restored["experiments"][made["experiments"][0]]["runs"]
    assert len(runs) == 6 and runs["run-0-1-child"]["tags"]["mlflow.parentRunId"] == "run-0-1"
    assert len(runs["run-0-1"]["metrics"]["loss"]) == 200 and len(runs["run-0-1"]["metrics"]["lr"]) == 2
    assert set(runs["run-0-1"]["artifacts"]) == {"summary.txt", "plots/curve.bin"}
    assert restored["models"][made["model"]]["aliases"] == {"champion": "2"}
    assert set(restored["models"][made["model"]]["versions"]) == {"1", "2"}
    assert users_and_permissions(server, target, source["experiment_id"], made["model"]) == source["users"]
    assert passwords_work(server, source["passwords"]) == {u: 200 for u in USERS}
    # The new stack's admin password (not the source's) is the one that works.
    assert requests.get(f"{server.url}/api/2.0/mlflow/experiments/search?max_results=1", timeout=10,
                        auth=(target.env["MLFLOW_ADMIN_USERNAME"], source["deployment"].env["MLFLOW_ADMIN_PASSWORD"])).status_code == 401
    return server


def test_copy_backup_restores_everything_into_a_new_stack(source, make_deployment, start_server, tmp_path):
    out = run_tool(source["deployment"], "backup", "--out", str(tmp_path / "b"))
    assert out.returncode == 0, out.stderr
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert len(manifest["artifacts"]["objects"]) >= 12
    assert manifest["databases"]["tracking"]["schemaRevision"] and manifest["databases"]["auth"]["schemaRevision"]

    # A new database pair and bucket that no server has touched yet.
    target = make_deployment("drilltgt")
    out = run_tool(target, "restore", "--from", str(tmp_path / "b"))
    assert out.returncode == 0, out.stderr
    assert_restored(source, target, start_server)


def test_versions_backup_restores_the_artifacts_as_they_were_at_backup_time(source, make_deployment, start_server, tmp_path):
    deployment = source["deployment"]
    out = run_tool(deployment, "backup", "--out", str(tmp_path / "v"), "--artifacts", "versions")
    assert out.returncode == 0, out.stderr
    manifest = json.loads((tmp_path / "v" / "manifest.json").read_text())
    assert all(o["versionId"] for o in manifest["artifacts"]["objects"])
    assert not (tmp_path / "v" / "artifacts").exists()  # no bytes downloaded

    # After the backup, an artifact is overwritten and another deleted on the source.
    s3 = deployment.s3.client(deployment.env["AWS_DEFAULT_REGION"])
    prefix = deployment.destination.split("/", 3)[3]
    summary = next(o["key"] for o in manifest["artifacts"]["objects"] if o["key"].endswith("summary.txt"))
    curve = next(o["key"] for o in manifest["artifacts"]["objects"] if o["key"].endswith("curve.bin"))
    s3.put_object(Bucket=deployment.bucket, Key=f"{prefix}/{summary}", Body=b"overwritten later")
    s3.delete_object(Bucket=deployment.bucket, Key=f"{prefix}/{curve}")
    try:
        # A target whose server already started once (migrated, its admin created).
        target = make_deployment("drillver")
        start_server(target.env).stop()
        out = run_tool(target, "restore", "--from", str(tmp_path / "v"))
        assert out.returncode == 0, out.stderr
        assert_restored(source, target, start_server)
    finally:
        # Put the source back as the snapshot has it, for the other tests of the module.
        for key in (summary, curve):
            versions = s3.list_object_versions(Bucket=deployment.bucket, Prefix=f"{prefix}/{key}")
            original = next(o["versionId"] for o in manifest["artifacts"]["objects"] if o["key"] == key)
            s3.copy_object(Bucket=deployment.bucket, Key=f"{prefix}/{key}",
                           CopySource={"Bucket": deployment.bucket, "Key": f"{prefix}/{key}", "VersionId": original})
            assert versions


def test_restore_refuses_a_target_that_holds_data_and_changes_nothing(source, make_deployment, tmp_path):
    out = run_tool(source["deployment"], "backup", "--out", str(tmp_path / "b"))
    assert out.returncode == 0, out.stderr
    # The source itself is the target that holds data.
    out = run_tool(source["deployment"], "restore", "--from", str(tmp_path / "b"))
    assert out.returncode == 1
    assert "the target is not new" in out.stderr and "nothing was changed" in out.stderr
    assert source["deployment"].pair.tracking_uri not in out.stderr + out.stdout
    client = admin_client(source["server"], source["deployment"])
    assert snapshot(client, source["made"]["experiments"], [source["made"]["model"]]) == source["snapshot"]


def test_restore_refuses_a_damaged_backup_before_touching_the_target(source, make_deployment, postgres, tmp_path):
    out = run_tool(source["deployment"], "backup", "--out", str(tmp_path / "b"))
    assert out.returncode == 0, out.stderr
    dump = tmp_path / "b" / "tracking.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    target = make_deployment("drilldmg")
    out = run_tool(target, "restore", "--from", str(tmp_path / "b"))
    assert out.returncode == 1 and "does not match its SHA-256" in out.stderr
    assert postgres.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", target.pair.tracking) == "0"


def test_backup_needs_its_settings_and_an_empty_directory(source, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_"))}
    out = subprocess.run([sys.executable, str(TOOL), "backup", "--out", str(tmp_path / "x")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "MLFLOW_KIT_TRACKING_DB_URI: is not set" in out.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    out = run_tool(source["deployment"], "backup", "--out", str(tmp_path / "full"))
    assert out.returncode == 1 and "is not empty" in out.stderr


def superuser_pg(postgres, tool, *args, stdin=None, stdout=None):
    """A PostgreSQL client tool as the superuser over the cluster's Unix socket: what
    `docker exec <stack>-postgres ...` runs in the local stack (stacks/ops/backup-restore.ts)."""
    cmd = [*postgres._as_owner, str(postgres.bin / tool), "--host", str(postgres.base), "--port",
           str(postgres.port), "--username", "postgres", *args]
    # cwd: the cluster's directory, which the postgres user can enter (a checkout may be 0700).
    out = subprocess.run(cmd, stdin=stdin, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=600, cwd=postgres.base)
    assert out.returncode == 0, out.stderr.decode()[-2000:]


def test_the_local_stacks_sequence_dumps_and_restores_in_the_server_as_the_app_role(source, make_deployment, start_server, postgres, tmp_path):
    """The local stack's steps: pg_dump inside its PostgreSQL (superuser, socket), the tool with
    --databases dumped, then on the target: check, pg_restore inside its PostgreSQL as the app
    role with the flags backup-restore.ts passes, the artifacts, and the server started."""
    out = tmp_path / "local"
    out.mkdir()  # the dumps come through stdout: the postgres user writes nothing here
    for name, database in (("tracking", source["deployment"].pair.tracking), ("auth", source["deployment"].pair.auth)):
        with open(out / f"{name}.dump", "wb") as dump:
            superuser_pg(postgres, "pg_dump", "--format=custom", "--no-owner", "--no-privileges", database, stdout=dump)
    result = run_tool(source["deployment"], "backup", "--out", str(out), "--databases", "dumped")
    assert result.returncode == 0, result.stderr

    target = make_deployment("drilllocal")
    start_server(target.env).stop()  # deployed: its server migrated the empty databases
    result = run_tool(target, "restore", "--from", str(out), "--only", "check")
    assert result.returncode == 0, result.stderr
    for name, database in (("tracking", target.pair.tracking), ("auth", target.pair.auth)):
        with open(out / f"{name}.dump", "rb") as dump:
            superuser_pg(postgres, "pg_restore", "--dbname", database, "--role", "mlflow_app", "--no-owner",
                         "--no-privileges", "--clean", "--if-exists", "--single-transaction", "--exit-on-error", stdin=dump)
    # Every table belongs to the app role, as the server's own migrations leave them.
    owners = postgres.query("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'", target.pair.tracking)
    assert owners == "mlflow_app"
    result = run_tool(target, "restore", "--from", str(out), "--only", "artifacts")
    assert result.returncode == 0, result.stderr
    assert_restored(source, target, start_server)


def test_a_store_native_backup_restores_the_artifacts_only(source, make_deployment, tmp_path):
    """RDS and Neon keep the databases themselves (snapshot, history): the backup records the
    artifacts' versions only, and the restore copies them into the new stack's bucket."""
    out = run_tool(source["deployment"], "backup", "--out", str(tmp_path / "n"), "--databases", "none", "--artifacts", "versions")
    assert out.returncode == 0, out.stderr
    manifest = json.loads((tmp_path / "n" / "manifest.json").read_text())
    assert manifest["databases"] is None and not list((tmp_path / "n").glob("*.dump"))
    target = make_deployment("drillnative")
    # Its databases are unreachable from here in production: the tool is given none.
    env = target.tool_env()
    env.pop("MLFLOW_KIT_TRACKING_DB_URI")
    env.pop("MLFLOW_KIT_AUTH_DB_URI")
    target.tool_env = lambda: env
    out = run_tool(target, "restore", "--from", str(tmp_path / "n"), "--only", "databases")
    assert out.returncode == 1 and "holds no database dumps" in out.stderr
    out = run_tool(target, "restore", "--from", str(tmp_path / "n"), "--only", "check", "--only", "artifacts")
    assert out.returncode == 0, out.stderr
    s3 = source["deployment"].s3.client(target.env["AWS_DEFAULT_REGION"])
    src_prefix, dst_prefix = source["deployment"].destination.split("/", 3)[3], target.destination.split("/", 3)[3]

    def objects(bucket, prefix):
        keys = source["deployment"].s3.keys(f"s3://{bucket}/{prefix}", target.env["AWS_DEFAULT_REGION"])
        return {k[len(prefix) + 1:]: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}

    copied = objects(target.bucket, dst_prefix)
    assert len(copied) == len(manifest["artifacts"]["objects"]) >= 12
    assert copied == objects(source["deployment"].bucket, src_prefix)
    # A second restore into the same bucket is refused: it is no longer new.
    out = run_tool(target, "restore", "--from", str(tmp_path / "n"), "--only", "check", "--only", "artifacts")
    assert out.returncode == 1 and "holds objects" in out.stderr
