"""The entrypoint refuses to start on a bad environment or an unreachable Postgres: one clear
report naming each variable, a distinct exit code, and never a secret value in its output."""

import pytest
from conftest import assert_no_secret, free_port, run_entrypoint, secret_values

EXIT_CONFIG = 2
EXIT_DATABASE = 3


@pytest.fixture(scope="module")
def base_env(make_env):
    env, _ = make_env("refusals")
    return env


def refused(env, code=EXIT_CONFIG):
    rc, output = run_entrypoint(env, timeout=60)
    assert rc == code, output
    assert secret_values(env)
    assert_no_secret(output, env)
    return output


def test_refuses_mlflows_shipped_default_admin_password(base_env):
    output = refused({**base_env, "MLFLOW_ADMIN_PASSWORD": "password1234"})
    assert "MLFLOW_ADMIN_PASSWORD" in output
    assert "default" in output


@pytest.mark.parametrize("name", ["MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_DATABASE_URI",
                                  "MLFLOW_FLASK_SERVER_SECRET_KEY", "MLFLOW_PUBLIC_HOSTNAME"])
def test_names_a_missing_variable(base_env, name):
    env = {k: v for k, v in base_env.items() if k != name}
    output = refused(env)
    assert f"{name} is required" in output


def test_reports_every_malformed_variable_at_once(base_env):
    env = {**base_env,
           "PORT": "http",
           "MLFLOW_ARTIFACTS_DESTINATION": "s3://Not_A_Bucket/prefix/",
           "MLFLOW_AUTH_MODE": "oauth",
           "MLFLOW_FLASK_SERVER_SECRET_KEY": base_env["MLFLOW_FLASK_SERVER_SECRET_KEY"][:20],
           "MLFLOW_BACKEND_STORE_URI": base_env["MLFLOW_BACKEND_STORE_URI"].replace(
               "postgresql://", "mysql://")}
    output = refused(env)
    for name in ("PORT", "MLFLOW_ARTIFACTS_DESTINATION", "MLFLOW_AUTH_MODE",
                 "MLFLOW_FLASK_SERVER_SECRET_KEY", "MLFLOW_BACKEND_STORE_URI"):
        assert name in output
    assert "5 problems" in output


def test_refuses_half_an_aws_key_pair(base_env):
    env = {k: v for k, v in base_env.items() if k != "AWS_SECRET_ACCESS_KEY"}
    env["AWS_ACCESS_KEY_ID"] = base_env.get("AWS_ACCESS_KEY_ID", "AKIA" "ABCDEFGHIJKLMNOP")
    output = refused(env)
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in output


def test_refuses_one_database_for_tracking_and_auth(base_env):
    output = refused({**base_env, "MLFLOW_AUTH_DATABASE_URI": base_env["MLFLOW_BACKEND_STORE_URI"]})
    assert "MLFLOW_AUTH_DATABASE_URI names the same database" in output


def test_reports_postgres_that_never_comes_within_the_bound(base_env):
    closed = free_port()
    env = {**base_env, "MLFLOW_DB_WAIT_SECONDS": "2"}
    for name in ("MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_DATABASE_URI"):
        env[name] = env[name].replace(env[name].split("@")[1].split("/")[0], f"127.0.0.1:{closed}")
    # refused() runs the entrypoint to completion: the wait is bounded if it ends by itself.
    output = refused(env, EXIT_DATABASE)
    assert "tracking database" in output and f"127.0.0.1:{closed}" in output
    assert "did not accept connections within 2 s" in output


def test_reports_a_wrong_database_password_without_showing_it(base_env):
    env = {**base_env, "MLFLOW_DB_WAIT_SECONDS": "1"}
    user_info = env["MLFLOW_BACKEND_STORE_URI"].split("@")[0]
    env["MLFLOW_BACKEND_STORE_URI"] = env["MLFLOW_BACKEND_STORE_URI"].replace(
        user_info, user_info.rsplit(":", 1)[0] + ":WrongPassw0rdNotTheRealOne")
    output = refused(env, EXIT_DATABASE)
    assert "password authentication failed" in output
    assert "WrongPassw0rdNotTheRealOne" not in output
