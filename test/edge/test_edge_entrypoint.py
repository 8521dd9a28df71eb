"""The entrypoint's handling of the edge's variables, without a server: validation, the auth
configuration it writes (authorization function, edge secret), and what it keeps out of the
server's environment."""

import configparser
import importlib.util
import json
import os

from helpers import ROOT, token

spec = importlib.util.spec_from_file_location("entrypoint_for_edge", ROOT / "images" / "mlflow" / "entrypoint.py")
entrypoint = importlib.util.module_from_spec(spec)
spec.loader.exec_module(entrypoint)

CONTRACT = json.loads((ROOT / "images" / "mlflow" / "contract.json").read_text())["variables"]


def env(**extra):
    base = {
        "MLFLOW_BACKEND_STORE_URI": "postgresql://u:pw-tracking-1@db:5432/tracking",
        "MLFLOW_AUTH_DATABASE_URI": "postgresql://u:pw-auth-0001@db:5432/auth",
        "MLFLOW_ADMIN_USERNAME": "admin",
        "MLFLOW_ADMIN_PASSWORD": token(16),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": token(40),
        "MLFLOW_ARTIFACTS_DESTINATION": "s3://bucket-name/mlflow",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "MLFLOW_PUBLIC_HOSTNAME": "mlflow.example.com",
    }
    return {**base, **extra}


def test_edge_variables_validate():
    good = env(MLFLOW_EDGE_SECRET=token(48), MLFLOW_EDGE_USERS="alice,bob", MLFLOW_API_USER_PASSWORDS=json.dumps({"mlflow-api": token(32)}))
    assert entrypoint.validate(CONTRACT, good)[1] == []
    cases = {
        "short secret": (env(MLFLOW_EDGE_SECRET="s" * 10), "MLFLOW_EDGE_SECRET is too short"),
        "people without secret": (env(MLFLOW_EDGE_USERS="alice"), "MLFLOW_EDGE_USERS is set without MLFLOW_EDGE_SECRET"),
        "bad people": (env(MLFLOW_EDGE_SECRET=token(48), MLFLOW_EDGE_USERS="Alice;bob"), "MLFLOW_EDGE_USERS"),
        "api not an object": (env(MLFLOW_API_USER_PASSWORDS='{"a": 1}'), "MLFLOW_API_USER_PASSWORDS must be a JSON object"),
        "api short password": (env(MLFLOW_API_USER_PASSWORDS=json.dumps({"api": "short"})), "shorter than 12 characters"),
        "admin as a person": (env(MLFLOW_EDGE_SECRET=token(48), MLFLOW_EDGE_USERS="admin"), "the admin must be its own user"),
        "admin as api": (env(MLFLOW_API_USER_PASSWORDS=json.dumps({"admin": token(20)})), "the admin must be its own user"),
        "both": (env(MLFLOW_EDGE_SECRET=token(48), MLFLOW_EDGE_USERS="carol", MLFLOW_API_USER_PASSWORDS=json.dumps({"carol": token(20)})), "in both"),
    }
    for label, (values, expected) in cases.items():
        problems = entrypoint.validate(CONTRACT, values)[1]
        assert any(expected in p for p in problems), (label, problems)
        secret_values = [values.get(k) for k in ("MLFLOW_EDGE_SECRET", "MLFLOW_ADMIN_PASSWORD")]
        assert not any(v and v in " ".join(problems) for v in secret_values), label


def test_auth_config_names_the_edge_function_and_holds_the_secret_and_the_server_env_keeps_neither(monkeypatch):
    secret, api = token(48), json.dumps({"mlflow-api": token(32)})
    settings, problems = entrypoint.validate(CONTRACT, env(MLFLOW_EDGE_SECRET=secret, MLFLOW_EDGE_USERS="alice", MLFLOW_API_USER_PASSWORDS=api))
    assert problems == []
    for k, v in settings.items():
        monkeypatch.setenv(k, v)
    path = entrypoint.write_auth_config(settings)
    try:
        config = configparser.ConfigParser(interpolation=None)
        config.read(path)
        assert config["mlflow"]["authorization_function"] == "edge_auth:authenticate_request"
        assert config["mlflow"]["edge_secret"] == secret
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        for name in ("MLFLOW_EDGE_SECRET", "MLFLOW_API_USER_PASSWORDS", "MLFLOW_EDGE_USERS", "MLFLOW_ADMIN_PASSWORD"):
            assert name not in os.environ, name
    finally:
        os.remove(path)
        os.rmdir(os.path.dirname(path))


def test_without_the_edge_mlflow_checks_basic_as_before(monkeypatch):
    settings, problems = entrypoint.validate(CONTRACT, env())
    assert problems == []
    for k, v in settings.items():
        monkeypatch.setenv(k, v)
    path = entrypoint.write_auth_config(settings)
    try:
        config = configparser.ConfigParser(interpolation=None)
        config.read(path)
        assert config["mlflow"]["authorization_function"] == "mlflow.server.auth:authenticate_request_basic_auth"
        assert "edge_secret" not in config["mlflow"]
    finally:
        os.remove(path)
        os.rmdir(os.path.dirname(path))
