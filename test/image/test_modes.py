"""MLFLOW_MIGRATE=only, concurrent starts, and MLFLOW_AUTH_MODE=proxy."""

import concurrent.futures
import socket

import pytest
import requests
from conftest import assert_no_secret, run_entrypoint
from helpers import token
from mlflow import MlflowClient


def listening(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def schema_revision(postgres, database, table):
    return postgres.query(f"SELECT version_num FROM {table}", database)


def test_migrate_only_migrates_both_databases_and_exits_without_serving(make_env, postgres):
    env, _ = make_env("only")
    env["MLFLOW_MIGRATE"] = "only"
    rc, output = run_entrypoint(env)
    assert rc == 0, output
    assert not listening(int(env["PORT"]))
    database = env["MLFLOW_BACKEND_STORE_URI"].rsplit("/", 1)[1]
    auth_database = env["MLFLOW_AUTH_DATABASE_URI"].rsplit("/", 1)[1]
    assert schema_revision(postgres, database, "alembic_version")
    assert schema_revision(postgres, auth_database, "alembic_version_auth")
    assert "not serving" in output
    assert_no_secret(output, env)


def test_concurrent_starts_migrate_one_at_a_time(make_env, postgres):
    # Two instances of one deployment against empty databases, as in a rollout: the advisory
    # lock makes the second wait, then find the schema current.
    env, _ = make_env("race")
    env["MLFLOW_MIGRATE"] = "only"
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run_entrypoint(env), range(2)))
    for rc, output in results:
        assert rc == 0, output
    assert any("another instance is starting" in output for _, output in results)
    database = env["MLFLOW_BACKEND_STORE_URI"].rsplit("/", 1)[1]
    assert postgres.query("SELECT count(*) FROM alembic_version", database) == "1"


def proxy_env(env):
    basic_only = ("MLFLOW_AUTH_DATABASE_URI", "MLFLOW_ADMIN_USERNAME", "MLFLOW_ADMIN_PASSWORD",
                  "MLFLOW_FLASK_SERVER_SECRET_KEY", "MLFLOW_DEFAULT_PERMISSION")
    env = {k: v for k, v in env.items() if k not in basic_only}
    env["MLFLOW_AUTH_MODE"] = "proxy"
    return env


@pytest.mark.parametrize("kind", ["venv", "container"])
def test_proxy_mode_serves_without_auth(make_env, start_server, kind):
    # MLflow's tracking app alone (no auth app), in the venv and in the image.
    env = proxy_env(make_env(f"proxy_{kind}")[0])
    server = start_server(env, kind)
    response = requests.get(f"{server.url}/api/2.0/mlflow/experiments/search",
                            params={"max_results": 5}, timeout=5)
    assert response.status_code == 200, response.text
    mlflow = MlflowClient(tracking_uri=server.url)
    experiment_id = mlflow.create_experiment("proxied")
    assert mlflow.get_experiment(experiment_id).name == "proxied"
    assert requests.get(f"{server.url}/api/2.0/mlflow/users/current", timeout=5).status_code == 404
    server.stop_gracefully()
    assert "waiting for the auth database" not in server.output()
    assert_no_secret(server.output(), env)


def test_a_rotated_admin_password_takes_effect_and_retires_the_old_one(make_env, start_server):
    # MLflow itself only creates a missing admin; the entrypoint must update an existing one,
    # or a bump of rotation.adminPassword would never reach the server.
    env, _ = make_env("rotate")
    old = env["MLFLOW_ADMIN_PASSWORD"]
    server = start_server(env)
    url = f"{server.url}/api/2.0/mlflow/users/current"
    assert requests.get(url, auth=("admin", old), timeout=5).status_code == 200
    server.stop_gracefully()

    rotated = dict(env, MLFLOW_ADMIN_PASSWORD="Rotated-" + old[::-1])
    server = start_server(rotated)
    assert requests.get(url, auth=("admin", rotated["MLFLOW_ADMIN_PASSWORD"]), timeout=5).status_code == 200
    assert requests.get(url, auth=("admin", old), timeout=5).status_code == 401
    assert "password set from MLFLOW_ADMIN_PASSWORD (rotated)" in server.output()
    server.stop_gracefully()
    assert_no_secret(server.output(), rotated)
    assert old not in server.output()


def test_a_renamed_admin_retires_the_old_one(make_env, start_server, postgres):
    # server.adminUsername renamed: the old admin keeps no rights and its password stops working;
    # an admin someone else promoted stays one. The first rename runs on a database from before
    # the kit recorded its admin (the record dropped), the rename back on the record.
    env, _ = make_env("rename")
    api = "/api/2.0/mlflow/users"
    old = ("admin", env["MLFLOW_ADMIN_PASSWORD"])
    carol = ("carol", "Carol-" + token(20))
    server = start_server(env)
    assert requests.post(f"{server.url}{api}/create", json=dict(zip(("username", "password"), carol)),
                         auth=old, timeout=10).status_code == 200
    assert requests.patch(f"{server.url}{api}/update-admin", json={"username": "carol", "is_admin": True},
                          auth=old, timeout=10).status_code == 200
    server.stop_gracefully()
    auth_database = env["MLFLOW_AUTH_DATABASE_URI"].rsplit("/", 1)[1]
    assert postgres.query("SELECT username FROM mlflow_kit_admin", auth_database) == "admin"
    postgres.query("DROP TABLE mlflow_kit_admin", auth_database)

    renamed = dict(env, MLFLOW_ADMIN_USERNAME="ops-admin", MLFLOW_ADMIN_PASSWORD="Ops-" + token(24))
    new = ("ops-admin", renamed["MLFLOW_ADMIN_PASSWORD"])
    server = start_server(renamed)

    def user(name, auth):
        answer = requests.get(f"{server.url}{api}/get", params={"username": name}, auth=auth, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["user"]

    current = f"{server.url}{api}/current"
    assert requests.get(current, auth=new, timeout=10).status_code == 200
    assert user("ops-admin", new)["is_admin"] is True
    assert requests.get(current, auth=old, timeout=10).status_code == 401
    assert user("admin", new)["is_admin"] is False
    assert user("carol", carol)["is_admin"] is True
    assert "former admin user admin retired" in server.output()
    assert postgres.query("SELECT username FROM mlflow_kit_admin", auth_database) == "ops-admin"
    server.stop_gracefully()
    assert_no_secret(server.output(), renamed)

    # Renamed back: admin is the admin again (with the configured password), ops-admin retired.
    back = dict(renamed, MLFLOW_ADMIN_USERNAME="admin")
    server = start_server(back)
    assert requests.get(current, auth=("admin", back["MLFLOW_ADMIN_PASSWORD"]), timeout=10).status_code == 200
    assert requests.get(current, auth=old, timeout=10).status_code == 401
    assert requests.get(current, auth=new, timeout=10).status_code == 401
    assert user("ops-admin", ("admin", back["MLFLOW_ADMIN_PASSWORD"]))["is_admin"] is False
    server.stop_gracefully()
    assert_no_secret(server.output(), back)
