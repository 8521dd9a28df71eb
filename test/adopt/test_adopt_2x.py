"""Adopting a running MLflow 2.x server, end to end, as the README's runbook says.

Real MLflow 2.21.3 and 2.9.2 servers (their own venvs) with basic auth, on real Postgres, their
artifacts in an S3 root of their own (moto) that clients write to directly, as
`--default-artifact-root s3://...` servers do. Their own clients log the data set
(log_dataset.py) and read it back (snapshot.py); the two old servers do this side by side.
Then the runbook: pg_dump both databases into the kit's (owned by the app role), copy the
artifact tree under the kit's prefix and rewrite the stored locations (tools/adopt/adopt.py), the
kit's entrypoint refuses the 2 -> 3 jump, then takes it with MLFLOW_ALLOW_MAJOR_UPGRADE=true. The
image's 3.x client must then read the same data set, and alice the same permissions.
"""

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from conftest import MLFLOW2_HEADS, ROOT, helpers, image_conftest, mlflow2_python

HERE = Path(__file__).resolve().parent
ADOPT_TOOL = ROOT / "tools" / "adopt" / "adopt.py"
REGION = "eu-west-1"
VERSIONS = list(MLFLOW2_HEADS)


def tag(version):
    return version.replace(".", "_")


def old_root(version):
    """The old server's --default-artifact-root: a bucket of its own per version."""
    return f"s3://old-mlflow-store-{version.replace('.', '-')}/mlruns"


def client_env(url, username, password, s3=None):
    env = {k: os.environ[k] for k in ("PATH", "LANG") if k in os.environ}
    env.update(HOME=str(HERE), MLFLOW_TRACKING_URI=url, MLFLOW_TRACKING_USERNAME=username,
               MLFLOW_TRACKING_PASSWORD=password, MLFLOW_DISABLE_TELEMETRY="true",
               PYTHONWARNINGS="ignore")
    if s3 is not None:  # the 2.x server does not proxy: its clients write to S3 themselves
        env.update(s3_env(s3))
    return env


def s3_env(s3):
    return {"AWS_ACCESS_KEY_ID": s3.access_key_id, "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
            "AWS_DEFAULT_REGION": REGION, "MLFLOW_S3_ENDPOINT_URL": s3.endpoint}


def run_python(python, script, env, *args):
    out = subprocess.run([str(python), str(script), *args], env=env, capture_output=True,
                         text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, f"{script.name} failed:\n{out.stderr[-4000:]}"
    return out.stdout


class Mlflow2Server:
    """`mlflow server` of the 2.x venv with basic auth, as the deployments the kit replaces ran."""

    def __init__(self, postgres, s3, workdir, version):
        self.version, self.root = version, old_root(version)
        self.tracking = postgres.create_database(f"old_tracking_{tag(version)}")
        self.auth = postgres.create_database(f"old_auth_{tag(version)}")
        self.admin_password = helpers.token(20)
        self.port = helpers.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        ini = workdir / "basic_auth.ini"
        ini.write_text(
            "[mlflow]\ndefault_permission = READ\n"
            f"database_uri = {self.auth}\nadmin_username = admin\n"
            f"admin_password = {self.admin_password}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
        env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "MLFLOW_AUTH_CONFIG_PATH": str(ini),
               "MLFLOW_FLASK_SERVER_SECRET_KEY": helpers.token(40), **s3_env(s3)}
        self.log = open(workdir / "mlflow2.log", "w")
        mlflow = mlflow2_python(version).parent / "mlflow"
        self.proc = subprocess.Popen(
            [str(mlflow), "server", "--backend-store-uri", self.tracking,
             "--default-artifact-root", self.root, "--no-serve-artifacts",
             "--app-name", "basic-auth", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=workdir)
        helpers.wait_until(self._up, 120, f"the MLflow {version} server on {self.url}", interval=0.5)

    def _up(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"mlflow {self.version} server exited {self.proc.returncode}: "
                               f"{Path(self.log.name).read_text()[-3000:]}")
        return image_conftest.health_ok(self.url)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


def permissions_seen_by_alice(url, password, logged):
    """What alice may do, by what the server answers her (status codes, and what searches show)."""
    alice = requests.Session()
    alice.auth = ("alice", password)

    def post(path, body):
        return alice.post(f"{url}/api/2.0/mlflow/{path}", json=body, timeout=30)

    def get(path, params):
        return alice.get(f"{url}/api/2.0/mlflow/{path}", params=params, timeout=30)

    a, b = logged["experiments"]["adopt-a"], logged["experiments"]["adopt-b"]
    experiments = post("experiments/search", {"max_results": 100, "view_type": "ALL"})
    models = get("registered-models/search", {"max_results": 100})
    assert experiments.status_code == 200 and models.status_code == 200, (experiments.text, models.text)
    return {
        "read a": get("experiments/get", {"experiment_id": a}).status_code,
        "edit a (EDIT)": post("experiments/set-experiment-tag",
                              {"experiment_id": a, "key": "k", "value": "v"}).status_code,
        "read b (NO_PERMISSIONS)": get("experiments/get", {"experiment_id": b}).status_code,
        "read a run of b": get("runs/get", {"run_id": logged["run_in_b"]}).status_code,
        "experiments she finds": sorted(e["name"] for e in experiments.json().get("experiments", [])),
        "tag model (MANAGE)": post("registered-models/set-tag",
                                   {"name": "adopt-model", "key": "k", "value": "v"}).status_code,
        "read adopt-private (NO_PERMISSIONS)": get("registered-models/get",
                                                   {"name": "adopt-private"}).status_code,
        "models she finds": sorted(m["name"] for m in models.json().get("registered_models", [])),
        "wrong password": requests.get(f"{url}/api/2.0/mlflow/experiments/get",
                                       params={"experiment_id": a}, auth=("alice", "not-her-password"),
                                       timeout=30).status_code,
    }


def run_old_server(postgres, s3, workdir, version):
    """The 2.x side of one version: its server, the data set its client logs, what alice may do
    and what its client reads back; the server stopped after."""
    s3.ensure_bucket(urlsplit(old_root(version)).netloc, REGION)
    server = Mlflow2Server(postgres, s3, workdir, version)
    python = mlflow2_python(version)
    try:
        env = client_env(server.url, "admin", server.admin_password, s3)
        logged = json.loads(run_python(python, HERE / "log_dataset.py", env).strip().splitlines()[-1])
        # alice's checks write tags (EDIT, MANAGE): before the snapshot, so it holds them too.
        allowed = permissions_seen_by_alice(server.url, logged["alice_password"], logged)
        before = json.loads(run_python(python, HERE / "snapshot.py", env).strip().splitlines()[-1])
    finally:
        server.stop()
    return server, logged, before, allowed


@pytest.fixture(scope="module")
def old_servers(postgres, s3, tmp_path_factory):
    """Every version's 2.x side, side by side (they mostly wait on their servers)."""
    with ThreadPoolExecutor(len(VERSIONS)) as pool:
        futures = {v: pool.submit(run_old_server, postgres, s3, tmp_path_factory.mktemp(f"mlflow-{v}"), v)
                   for v in VERSIONS}
        return {v: future.result() for v, future in futures.items()}


def kit_env(postgres, s3, version):
    """The dev stack's runtime env on a fresh database pair, with a bucket of its own per version
    (the comparison of the copied tree counts every object under the kit's prefix)."""
    creds = image_conftest.Secrets()
    pair = postgres.database_pair(f"adopt_{tag(version)}")
    bucket = f"kit-artifacts-{version.replace('.', '-')}"
    env = helpers.runtime_env("dev", pair.tracking_uri, pair.auth_uri, s3, helpers.free_port(),
                              creds.admin_password, creds.flask_secret_key, bucket=bucket)
    s3.ensure_bucket(bucket, env["AWS_DEFAULT_REGION"])
    env["MLFLOW_DB_WAIT_SECONDS"] = "30"
    return env, creds


def dump_and_restore(postgres, source_uri, target_uri):
    """pg_dump of the old database restored into the kit's, its objects owned by the app role."""
    source, target = source_uri.rsplit("/", 1)[1], target_uri.rsplit("/", 1)[1]
    dump = postgres.base / f"{source}.dump"
    connect = ["-h", str(postgres.base), "-p", str(postgres.port), "-U", "postgres"]
    postgres._run(str(postgres.bin / "pg_dump"), *connect, "--format=custom", "-f", str(dump), source)
    postgres._run(str(postgres.bin / "pg_restore"), *connect, "--no-owner", "--no-privileges",
                  f"--role={helpers.APP_ROLE}", "--exit-on-error", "-d", target, str(dump))


def adopt_tool(env, *args):
    out = subprocess.run([sys.executable, str(ADOPT_TOOL), *args], env=env, capture_output=True,
                         text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return out.stdout


def without_locations(snapshot):
    return {k: v for k, v in snapshot.items() if k != "locations"}


@pytest.mark.parametrize("version", VERSIONS)
def test_adopting_a_2x_server_keeps_everything(version, old_servers, postgres, s3, tmp_path):
    server, logged, before, allowed_before = old_servers[version]
    last_2x_head, old_store = MLFLOW2_HEADS[version], server.root
    assert len(before["runs"]) == 6 and before["models"]["adopt-model"]["aliases"] == {"champion": "2"}
    assert allowed_before == {
        "read a": 200, "edit a (EDIT)": 200, "read b (NO_PERMISSIONS)": 403, "read a run of b": 403,
        "experiments she finds": ["Default", "adopt-a"], "tag model (MANAGE)": 200,
        "read adopt-private (NO_PERMISSIONS)": 403, "models she finds": ["adopt-model"],
        "wrong password": 401}
    env, creds = kit_env(postgres, s3, version)

    # 1. Both databases, dumped and restored into the kit's with the app role as owner.
    dump_and_restore(postgres, server.tracking, env["MLFLOW_BACKEND_STORE_URI"])
    dump_and_restore(postgres, server.auth, env["MLFLOW_AUTH_DATABASE_URI"])
    tracking_db = env["MLFLOW_BACKEND_STORE_URI"].rsplit("/", 1)[1]
    assert postgres.sql("SELECT version_num FROM alembic_version", tracking_db) == last_2x_head
    owners = postgres.sql("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'",
                          tracking_db)
    assert owners == helpers.APP_ROLE

    # 2. The artifact tree under the kit's prefix, and the stored locations rewritten.
    tool_env = {"PATH": os.environ["PATH"], **s3_env(s3),
                "MLFLOW_BACKEND_STORE_URI": env["MLFLOW_BACKEND_STORE_URI"]}
    destination = env["MLFLOW_ARTIFACTS_DESTINATION"]
    copied = adopt_tool(tool_env, "artifacts", "--from", old_store, "--to", destination)
    old_keys = s3.keys(old_store, REGION)
    assert f"copied {len(old_keys)} objects, 0 already there" in copied
    prefix, old_prefix = urlsplit(destination).path.strip("/"), urlsplit(old_store).path.strip("/")
    assert sorted(k[len(prefix):] for k in s3.keys(destination, REGION)) == \
        sorted(k[len(old_prefix):] for k in old_keys)
    again = adopt_tool(tool_env, "artifacts", "--from", old_store, "--to", destination)
    assert f"copied 0 objects, {len(old_keys)} already there" in again  # idempotent
    rewritten = adopt_tool(tool_env, "locations", "--from", old_store)
    assert "runs.artifact_uri: 6 rewritten" in rewritten, rewritten

    # 3. The kit's entrypoint refuses the one-way 2 -> 3 jump by default, naming the backup...
    for migrate in ("auto", "off"):
        rc, output = image_conftest.run_entrypoint(dict(env, MLFLOW_MIGRATE=migrate))
        assert rc == 4 and "Traceback" not in output, output[-3000:]
        last = output.strip().splitlines()[-1]
        assert f"MLflow 2.x schema ({last_2x_head})" in last and "pg_dump" in last, last
        assert f"'{tracking_db}'" in last and "MLFLOW_ALLOW_MAJOR_UPGRADE=true" in last, last
        image_conftest.assert_no_secret(output, env)
    assert postgres.sql("SELECT version_num FROM alembic_version", tracking_db) == last_2x_head

    # ...and takes it when told to.
    env["MLFLOW_ALLOW_MAJOR_UPGRADE"] = "true"
    kit = image_conftest.Server(env, tmp_path / "kit.log").start()
    try:
        assert "schema gate: tracking database" in kit.output() and ": upgrade" in kit.output()
        after = json.loads(run_python(sys.executable, HERE / "snapshot.py", client_env(
            kit.url, "admin", creds.admin_password)).strip().splitlines()[-1])
        allowed_after = permissions_seen_by_alice(kit.url, logged["alice_password"], logged)
        kit_output = kit.output()
        old_admin = requests.get(f"{kit.url}/api/2.0/mlflow/experiments/search",
                                 params={"max_results": 1}, timeout=30,
                                 auth=("admin", server.admin_password)).status_code
    finally:
        kit.stop_gracefully()

    # 4. The same data set through the 3.x client, locations moved under the kit's store.
    assert without_locations(after) == without_locations(before)
    for name, location in before["locations"].items():
        moved = location.replace(old_store, "mlflow-artifacts:", 1)
        assert after["locations"][name] == moved, name
    assert all(v.startswith(("mlflow-artifacts:/", "runs:/", "models:/"))
               for v in after["locations"].values()), after["locations"]
    # alice, her password and every grant came over, her NO_PERMISSIONS ones included: 3.17's
    # RBAC migration drops them (she would read adopt-b and adopt-private under the default
    # READ); the entrypoint writes them as DENY (images/mlflow/auth_carryover.py).
    assert allowed_after == allowed_before
    assert "auth database: 2 NO_PERMISSIONS grant(s) carried over as DENY" in kit_output, kit_output
    auth_db = env["MLFLOW_AUTH_DATABASE_URI"].rsplit("/", 1)[1]
    grants = postgres.sql(
        "SELECT string_agg(rp.resource_type || ' ' || rp.resource_pattern || ' ' || rp.permission,"
        " ', ' ORDER BY rp.resource_type, rp.permission) FROM role_permissions rp"
        " JOIN roles r ON r.id = rp.role_id JOIN user_role_assignments a ON a.role_id = r.id"
        " JOIN users u ON u.id = a.user_id WHERE u.username = 'alice'", auth_db)
    a, b = logged["experiments"]["adopt-a"], logged["experiments"]["adopt-b"]
    assert grants == (f"experiment {b} DENY, experiment {a} EDIT, "
                      "registered_model adopt-private DENY, registered_model adopt-model MANAGE"), grants
    assert postgres.sql("SELECT to_regclass('mlflow_kit_legacy_denies') IS NULL", auth_db) == "t"
    # The kit's admin password replaced the old one.
    assert old_admin == 401
