"""Fast checks of the entrypoint's redaction and validation, without Postgres or a server."""

import importlib.util
import io
import json

import pytest
from conftest import ENTRYPOINT, ROOT

spec = importlib.util.spec_from_file_location("entrypoint", ENTRYPOINT)
entrypoint = importlib.util.module_from_spec(spec)
spec.loader.exec_module(entrypoint)

CONTRACT = json.loads((ROOT / "images" / "mlflow" / "contract.json").read_text())["variables"]
GOOD = {
    "MLFLOW_BACKEND_STORE_URI": "postgresql://u:Tr%40ck1ngPw@db:5432/tracking?sslmode=require",
    "MLFLOW_AUTH_DATABASE_URI": "postgresql+psycopg2://u:AuthDbPassw0rd@db:5432/auth",
    "MLFLOW_ADMIN_USERNAME": "admin",
    "MLFLOW_ADMIN_PASSWORD": "a-Long-admin-pw",
    "MLFLOW_FLASK_SERVER_SECRET_KEY": "k" * 40,
    "MLFLOW_ARTIFACTS_DESTINATION": "s3://bucket-name/mlflow",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "MLFLOW_PUBLIC_HOSTNAME": "mlflow.example.com",
}


def test_redactor_masks_secrets_and_any_uri_password():
    redact = entrypoint.Redactor()
    redact.add(GOOD["MLFLOW_BACKEND_STORE_URI"])
    text = redact("failed: Tr@ck1ngPw / Tr%40ck1ngPw / postgresql://x:other-pw@h/db")
    assert "Tr@ck1ngPw" not in text and "Tr%40ck1ngPw" not in text and "other-pw" not in text
    assert "postgresql://x:***@h/db" in text


def test_redacting_stream_masks_a_secret_split_across_writes():
    redact = entrypoint.Redactor()
    redact.add("SuperSecretValue")
    out = io.StringIO()
    stream = entrypoint.RedactingStream(out, redact)
    stream.write("key=SuperSec")
    stream.write("retValue\nnext ")
    stream.flush()
    assert out.getvalue() == "key=***\nnext "


def test_valid_env_gets_defaults():
    settings, problems = entrypoint.validate(CONTRACT, GOOD)
    assert problems == []
    assert settings["PORT"] == "5000" and settings["MLFLOW_WORKERS"] == "1"
    assert settings["MLFLOW_MIGRATE"] == "auto" and settings["MLFLOW_AUTH_MODE"] == "basic"


def test_proxy_mode_needs_no_auth_variables():
    basic_only = {v["name"] for v in CONTRACT if v["required"] == "basic"}
    env = {k: v for k, v in GOOD.items() if k not in basic_only}
    settings, problems = entrypoint.validate(CONTRACT, {**env, "MLFLOW_AUTH_MODE": "proxy"})
    assert problems == []
    assert not basic_only & settings.keys()


@pytest.mark.parametrize("change, message", [
    ({"PORT": "70000"}, "PORT='70000' is out of range"),
    ({"MLFLOW_ADMIN_PASSWORD": " padded-password "}, "leading/trailing whitespace"),
    ({"MLFLOW_AUTH_DATABASE_URI": "postgresql://other:pw@DB:5432/tracking"}, "same database"),
    ({"MLFLOW_BACKEND_STORE_URI": "postgresql://u:p@db:port/x"}, "port that is not a number"),
    ({"MLFLOW_MIGRATE": "sometimes"}, "MLFLOW_MIGRATE='sometimes' is not one of auto, only, off"),
    ({"MLFLOW_PUBLIC_HOSTNAME": ""}, "MLFLOW_PUBLIC_HOSTNAME is required"),
])
def test_problems_name_the_variable(change, message):
    _, problems = entrypoint.validate(CONTRACT, {**GOOD, **change})
    assert any(message in p for p in problems), problems


def test_allowed_hosts_cover_public_name_and_loopback_with_and_without_port():
    settings, _ = entrypoint.validate(CONTRACT, {**GOOD, "PORT": "7860"})
    assert entrypoint.allowed_hosts(settings).split(",") == [
        "mlflow.example.com", "mlflow.example.com:7860", "localhost", "localhost:7860",
        "127.0.0.1", "127.0.0.1:7860"]


@pytest.mark.parametrize("change, origins", [
    ({}, "https://mlflow.example.com"),
    ({"MLFLOW_PUBLIC_HOSTNAME": "MLflow.Example.com"}, "https://mlflow.example.com"),
    ({"MLFLOW_CORS_ALLOWED_ORIGINS": "https://app.example.com,https://mlflow.example.com"},
     "https://mlflow.example.com,https://app.example.com"),
    ({"MLFLOW_PUBLIC_SCHEME": "http", "MLFLOW_PUBLIC_HOSTNAME": "localhost", "PORT": "5001"},
     "http://localhost:5001,http://127.0.0.1:5001"),
])
def test_cors_allowed_origins_are_the_public_origin_then_the_extra_ones(change, origins):
    settings, problems = entrypoint.validate(CONTRACT, {**GOOD, **change})
    assert problems == []
    args = entrypoint.server_args(settings)
    assert args[args.index("--cors-allowed-origins") + 1] == origins


@pytest.mark.parametrize("origins", [
    "*", "https://*.example.com", "https://app.example.com/", "https://App.example.com",
    "https://a.example.com, https://b.example.com", "app.example.com",
])
def test_extra_origins_a_browser_never_sends_or_a_wildcard_are_refused(origins):
    _, problems = entrypoint.validate(CONTRACT, {**GOOD, "MLFLOW_CORS_ALLOWED_ORIGINS": origins})
    assert any(p.startswith("MLFLOW_CORS_ALLOWED_ORIGINS=") for p in problems), problems


def test_switching_off_mlflows_security_middleware_is_ignored():
    import os
    from unittest import mock

    # prepare_environment rewrites os.environ: restored whole afterwards.
    with mock.patch.dict(os.environ, {"MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE": "true"}):
        settings, _ = entrypoint.validate(CONTRACT, GOOD)
        entrypoint.prepare_environment(CONTRACT, settings)
        assert "MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE" not in os.environ


def test_server_argv_holds_no_secret():
    settings, _ = entrypoint.validate(CONTRACT, GOOD)
    argv = " ".join(entrypoint.server_args(entrypoint.normalize(settings)))
    for name in ("MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_DATABASE_URI", "MLFLOW_ADMIN_PASSWORD",
                 "MLFLOW_FLASK_SERVER_SECRET_KEY"):
        assert GOOD[name] not in argv
    assert "--app-name basic-auth" in argv and "--host 0.0.0.0" in argv


def test_bounded_auth_runs_password_checks_one_at_a_time():
    # scrypt costs ~32 MiB a check: in parallel they pushed one worker past 512 MB.
    import sys
    import threading

    sys.path.insert(0, str(ENTRYPOINT.parent))
    import bounded_auth
    import mlflow.server.auth.sqlalchemy_store as store
    from werkzeug.security import generate_password_hash

    assert store.check_password_hash is bounded_auth.bounded_check_password_hash
    active, peak, guard = 0, 0, threading.Lock()
    real = bounded_auth._check_password_hash

    def counting(pwhash, password):
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        try:
            return real(pwhash, password)
        finally:
            with guard:
                active -= 1

    bounded_auth._check_password_hash = counting
    try:
        pwhash = generate_password_hash("right-password")
        results = []
        threads = [threading.Thread(target=lambda p=p: results.append(store.check_password_hash(pwhash, p)))
                   for p in ["right-password", "wrong"] * 4]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        bounded_auth._check_password_hash = real
    assert sorted(results) == [False] * 4 + [True] * 4
    assert peak == 1


def test_the_auth_app_is_swapped_for_the_bounded_one():
    env = {}
    cmd = ["uvicorn", "--factory", "mlflow.server.auth:create_app"]
    assert entrypoint.with_bounded_auth(cmd, env)[-1] == "bounded_auth:create_app"
    assert env["PYTHONPATH"].split(":")[0] == str(ENTRYPOINT.parent)
    # Without the auth app (proxy mode): MLflow's app wrapped so that artifacts go through it.
    env = {}
    assert entrypoint.with_bounded_auth(["uvicorn", "mlflow.server.fastapi_app:app"], env) == ["uvicorn", "proxied_artifacts:app"]
    assert env["PYTHONPATH"].split(":")[0] == str(ENTRYPOINT.parent)
    assert entrypoint.with_bounded_auth(["uvicorn", "other:app"], {}) == ["uvicorn", "other:app"]
