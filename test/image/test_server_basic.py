"""The image's server in basic-auth mode, started once for the module per kind (the entrypoint
in the test venv, and the built image as a read-only container): tracking, proxied artifacts in
S3, MLflow's own auth, the UI, the host check, and a restart."""

import os
import re
import stat

import pytest
import requests
from conftest import assert_no_secret, secret_values, token
from mlflow import MlflowClient


@pytest.fixture(scope="module", params=["venv", "container"])
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def env(make_env, kind):
    env, _ = make_env(f"basic_{kind}")
    return env


@pytest.fixture(scope="module")
def server(env, start_server, kind):
    return start_server(env, kind)


@pytest.fixture
def admin(env, monkeypatch):
    """MLflow's client, signed in as the admin the env configures."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", env["MLFLOW_ADMIN_USERNAME"])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", env["MLFLOW_ADMIN_PASSWORD"])


def client(server):
    return MlflowClient(tracking_uri=server.url)


def admin_auth(env):
    return (env["MLFLOW_ADMIN_USERNAME"], env["MLFLOW_ADMIN_PASSWORD"])


@pytest.fixture(scope="module")
def logged(server, env, tmp_path_factory):
    """An experiment and a run with params, metrics and a file artifact, logged once."""
    os.environ["MLFLOW_TRACKING_USERNAME"] = env["MLFLOW_ADMIN_USERNAME"]
    os.environ["MLFLOW_TRACKING_PASSWORD"] = env["MLFLOW_ADMIN_PASSWORD"]
    try:
        mlflow = client(server)
        experiment_id = mlflow.create_experiment(f"e2e-{token(6)}")
        run_id = mlflow.create_run(experiment_id).info.run_id
        mlflow.log_param(run_id, "learning_rate", "0.01")
        mlflow.log_param(run_id, "optimizer", "adam")
        for step, loss in enumerate([0.9, 0.5, 0.25]):
            mlflow.log_metric(run_id, "loss", loss, step=step)
        artifact = tmp_path_factory.mktemp("artifact") / "model-card.txt"
        artifact.write_text(f"model card {token(8)}\n")
        mlflow.log_artifact(run_id, str(artifact), artifact_path="docs")
        mlflow.set_terminated(run_id)
    finally:
        del os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]
    return {"experiment_id": experiment_id, "run_id": run_id, "artifact": artifact}


def assert_logged_data_readable(server, logged, tmp_path):
    mlflow = client(server)
    run = mlflow.get_run(logged["run_id"])
    assert run.info.experiment_id == logged["experiment_id"]
    assert run.info.status == "FINISHED"
    assert run.data.params == {"learning_rate": "0.01", "optimizer": "adam"}
    history = mlflow.get_metric_history(logged["run_id"], "loss")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
        (0, 0.9), (1, 0.5), (2, 0.25)]
    assert [f.path for f in mlflow.list_artifacts(logged["run_id"], "docs")] == [
        "docs/model-card.txt"]
    local = mlflow.download_artifacts(logged["run_id"], "docs/model-card.txt", str(tmp_path))
    assert open(local).read() == logged["artifact"].read_text()


def test_health_is_open_and_version_needs_a_login(server, env):
    # Platform health checks carry no credentials; everything else does.
    assert requests.get(f"{server.url}/health", timeout=5).text == "OK"
    assert requests.get(f"{server.url}/version", timeout=5).status_code == 401
    version = requests.get(f"{server.url}/version", auth=admin_auth(env), timeout=5).text
    assert re.fullmatch(r"3\.\d+\.\d+", version)


def test_logged_run_reads_back(server, logged, admin, tmp_path):
    assert_logged_data_readable(server, logged, tmp_path)


def test_artifact_is_in_the_bucket_under_the_configured_prefix(logged, env, s3):
    destination = env["MLFLOW_ARTIFACTS_DESTINATION"]
    prefix = destination.split("/", 3)[3] if destination.count("/") >= 3 else ""
    keys = s3.keys(destination, env["AWS_DEFAULT_REGION"])
    wanted = f"{logged['experiment_id']}/{logged['run_id']}/artifacts/docs/model-card.txt"
    assert any(k.endswith(wanted) and k.startswith(prefix) for k in keys), keys


def test_unauthenticated_request_is_refused(server):
    response = requests.get(f"{server.url}/api/2.0/mlflow/experiments/search",
                            params={"max_results": 1}, timeout=5)
    assert response.status_code == 401


def test_admin_authenticates_and_wrong_password_is_refused(server, env):
    url = f"{server.url}/api/2.0/mlflow/experiments/search"
    ok = requests.get(url, params={"max_results": 1}, auth=admin_auth(env), timeout=5)
    assert ok.status_code == 200
    bad = requests.get(url, params={"max_results": 1},
                       auth=(env["MLFLOW_ADMIN_USERNAME"], token(20)), timeout=5)
    assert bad.status_code == 401


@pytest.fixture(scope="module")
def user(server, env):
    """A user created through the auth API."""
    username, password = f"alice-{token(6).lower()}", token(20)
    response = requests.post(f"{server.url}/api/2.0/mlflow/users/create",
                             json={"username": username, "password": password},
                             auth=admin_auth(env), timeout=10)
    assert response.status_code == 200, response.text
    return username, password


def test_created_user_authenticates(server, user):
    url = f"{server.url}/api/2.0/mlflow/users/current"
    me = requests.get(url, auth=user, timeout=5)
    assert me.status_code == 200, me.text
    assert me.json()["user"]["username"] == user[0]
    assert requests.get(url, auth=(user[0], token(20)), timeout=5).status_code == 401


def test_ui_is_served_behind_the_login(server, env):
    # The web UI is the React build only the full mlflow package ships.
    assert requests.get(f"{server.url}/", timeout=5).status_code == 401
    page = requests.get(f"{server.url}/", auth=admin_auth(env), timeout=10)
    assert page.status_code == 200
    assert '<div id="root"' in page.text
    script = re.search(r'src="(static-files/static/js/[^"]+\.js)"', page.text).group(1)
    js = requests.get(f"{server.url}/{script}", auth=admin_auth(env), timeout=10)
    assert js.status_code == 200 and len(js.content) > 100_000


def test_foreign_host_header_is_rejected_and_public_hostname_accepted(server, env):
    url = f"{server.url}/api/2.0/mlflow/experiments/search"

    def status(host):
        return requests.get(url, params={"max_results": 1}, headers={"Host": host},
                            auth=admin_auth(env), timeout=5).status_code

    assert status("evil.example.net") == 403
    assert status(f"evil.example.net:{server.port}") == 403
    assert status(env["MLFLOW_PUBLIC_HOSTNAME"]) == 200
    assert status(f"{env['MLFLOW_PUBLIC_HOSTNAME']}:{server.port}") == 200


def test_ui_posts_from_the_public_origin_pass_and_others_are_blocked(server, env):
    # What a browser on https://<public host> sends for the runs table: a POST with its Origin.
    # MLflow answers 403 "Cross-origin request blocked" to an origin it does not allow.
    host = env["MLFLOW_PUBLIC_HOSTNAME"]
    url = f"{server.url}/ajax-api/2.0/mlflow/runs/search"

    def post(origin):
        return requests.post(url, json={"experiment_ids": ["0"], "max_results": 1},
                             headers={"Host": host, "Origin": origin}, auth=admin_auth(env),
                             timeout=10)

    assert post(f"https://{host}").status_code == 200
    for foreign in ("https://evil.example.net", f"http://{host}", f"https://{host}.evil.example.net"):
        answer = post(foreign)
        assert (answer.status_code, answer.text) == (403, "Cross-origin request blocked"), foreign


def test_server_runs_as_uvicorn_in_place_of_the_entrypoint(server, env):
    # The entrypoint execs: the process it started as is uvicorn now, and no argv in the
    # tree shows a secret.
    root = server.main_process()
    assert "uvicorn" in root.cmdline()
    assert "bounded_auth:create_app" in root.cmdline()
    tree = [root, *root.children(recursive=True)]
    argv = "\n".join(" ".join(p.cmdline()) for p in tree)
    assert_no_secret(argv, env)
    # One worker, no resident `mlflow server` parent: what fits 512 MB (memory itself is
    # measured by bench/image, not asserted here).
    assert len(tree) == int(env["MLFLOW_WORKERS"]), [p.cmdline()[:3] for p in tree]


def test_auth_config_is_private(server, env):
    path = server.host_path(re.findall(r"auth config written to (\S+)", server.output())[-1])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    text = path.read_text()
    assert f"admin_username = {env['MLFLOW_ADMIN_USERNAME']}" in text
    assert "auth_cache_ttl_seconds = 30" in text
    # The secrets the ini holds are no longer in the server's environment.
    environ = server.main_process().environ()
    assert "MLFLOW_ADMIN_PASSWORD" not in environ
    assert "MLFLOW_AUTH_DATABASE_URI" not in environ


def test_everything_survives_a_restart(server, logged, user, admin, tmp_path):
    server.stop_gracefully()
    server.start()
    assert_logged_data_readable(server, logged, tmp_path)
    me = requests.get(f"{server.url}/api/2.0/mlflow/users/current", auth=user, timeout=5)
    assert me.status_code == 200


def test_logs_show_no_secret(server, env, logged, user):
    output = server.output()
    assert "migrating the tracking database" in output
    assert secret_values(env)
    assert_no_secret(output, env)
