"""The MLflow UI in a real browser through the prod (ECS) edge: test/browser/ui.test.ts's steps in
Debian's chromium, on https://<target.domain>, through TLS, the load balancer stand-in, the real
Traefik with the rendered config and the forward-auth stand-in, to MLflow with its auth app
behind the edge (images/mlflow/edge_auth.py). The person signs in at the portal stand-in
(/api/firstfactor) with a password given to edge-config.ts; the API client owns the run they
open, so the same person is the READ user of the last step. Chromium: test/browser/setup.sh
(test/edge/run.sh runs it). Screenshots: .cache/browser/prod/."""

import json
import os
import subprocess

from conftest import ROOT

VITEST = ROOT / "node_modules" / ".bin" / "vitest"
STEPS = [
    "signs in and lists the experiments",
    "creates an experiment",
    "renames it",
    "lists the runs, opens one and shows an artifact's content",
    "registers the run's model",
    "a READ user sees another's experiment but cannot rename it",
]


def test_the_ui_in_chromium_through_the_prod_edge(edge, mlflow_server, tmp_path):
    before = len(edge.recorder.requests)
    target = {
        "stack": "prod",
        "host": edge.domain,
        "portalHost": edge.auth_domain,
        "upstreamPort": edge.alb.https.port,
        "mlflowUrl": mlflow_server.url,
        "api": {"username": edge.api_username, "password": edge.api_password},
        "person": {"username": "alice", "password": edge.alice_password},
    }
    config = tmp_path / "target.json"
    config.touch(mode=0o600)
    config.write_text(json.dumps(target))
    report = tmp_path / "report.json"
    env = {**os.environ, "MLFLOW_KIT_BROWSER_ECS_TARGET": str(config)}
    out = subprocess.run([str(VITEST), "run", "--config", "vitest.browser.config.ts", "--reporter=default", "--reporter=json",
                          f"--outputFile.json={report}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                         stdin=subprocess.DEVNULL)
    print(out.stdout[-8000:], out.stderr[-4000:])
    assert report.exists(), "vitest wrote no report (output above)"
    results = {t["title"]: t["status"] for f in json.loads(report.read_text())["testResults"] for t in f["assertionResults"]}
    # Every step ran, in the profile's own words, and passed: none skipped or left out.
    assert results == {step: "passed" for step in STEPS}, results
    assert out.returncode == 0, "the browser steps failed (output above)"
    # Everything the browser sent reached MLflow through Traefik as the person the portal signed
    # in, with the edge's secret (the REST calls that prepared the run went to MLflow directly).
    seen = edge.recorder.requests[before:]
    assert len(seen) > 20, len(seen)
    identities = {(r["headers"].get("Remote-User"), r["headers"].get("X-Mlflow-Kit-Edge") == edge.edge_secret) for r in seen}
    assert identities == {("alice", True)}, identities
