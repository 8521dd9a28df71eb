"""Artifacts for a client that cannot reach the artifact store (issue 16): on the local stack
the store is MinIO at http://minio:9000, a name only the private Docker network resolves. The
server must never send the client to the store (presigned multipart URLs): every upload and
download goes through it. Here the client's every request but those to the server goes to a
closed proxy port, so it cannot reach moto's S3, which the server uses."""

import os
import socket

import pytest
import requests
from conftest import token
from mlflow import MlflowClient


@pytest.fixture(scope="module", params=["venv", "container"])
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def server(make_env, start_server, kind):
    env, _ = make_env(f"unreachable_store_{kind}")
    return start_server(env, kind), env


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cut_off_client(server, monkeypatch):
    """MLflow's client as the admin, reaching the server as `localhost` and nothing else."""
    srv, env = server
    proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "localhost")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", env["MLFLOW_ADMIN_USERNAME"])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", env["MLFLOW_ADMIN_PASSWORD"])
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    # A client that believed in multipart would use it even for small files, and fail at once.
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1")
    monkeypatch.setenv("MLFLOW_MULTIPART_DOWNLOAD_MINIMUM_FILE_SIZE", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    for name in ("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD"):
        monkeypatch.delenv(name, raising=False)
    return MlflowClient(tracking_uri=f"http://localhost:{srv.port}"), env


def test_the_client_really_cannot_reach_the_store(cut_off_client, s3):
    with pytest.raises(requests.exceptions.ProxyError):
        requests.get(s3.endpoint, timeout=5)


def test_server_info_says_multipart_is_off(server, cut_off_client):
    srv, _ = server
    info = requests.get(f"http://localhost:{srv.port}/api/3.0/mlflow/server-info", timeout=10).json()
    assert info["multipart_uploads_enabled"] is False
    assert info["multipart_downloads_enabled"] is False


def test_upload_list_and_download_go_through_the_server(cut_off_client, tmp_path, s3, monkeypatch):
    client, env = cut_off_client
    run_id = client.create_run(client.create_experiment(f"unreachable-{token(6)}")).info.run_id
    payload = os.urandom(3 * 1024 * 1024)
    src = tmp_path / "weights.bin"
    src.write_bytes(payload)
    client.log_artifact(run_id, str(src), artifact_path="model")
    assert [f.path for f in client.list_artifacts(run_id, "model")] == ["model/weights.bin"]
    out = client.download_artifacts(run_id, "model/weights.bin", str(tmp_path / "out"))
    with open(out, "rb") as f:
        assert f.read() == payload
    # It is in the store, which only the server reached (this test's S3 client: no proxy).
    monkeypatch.undo()
    assert any(k.endswith(f"{run_id}/artifacts/model/weights.bin")
               for k in s3.keys(env["MLFLOW_ARTIFACTS_DESTINATION"], env["AWS_DEFAULT_REGION"]))
