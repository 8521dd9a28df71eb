"""Authorization on ECS, through the real Traefik and the prod configuration: MLflow's own
permissions (READ / EDIT / MANAGE per experiment and registered model, default_permission) for
people signed in at the portal (Remote-User from the edge) and for API clients (Basic), the
admin's powers, and what MLflow does with an identity header that did not come from the edge."""

import re

import requests

from conftest import edge_mlflow_env, image_conftest

JSON = {"Accept": "application/json"}


def call(edge, method, path, who, body=None):
    """who: a portal user's name (browser session) or (username, password) for Basic."""
    kwargs = {"headers": dict(JSON)}
    if isinstance(who, str):
        kwargs["headers"].update(edge.session(who))
    else:
        kwargs["auth"] = who
    if body is not None:
        kwargs["json"] = body
    return edge.get(edge.domain, path, method=method, **kwargs)


def test_experiment_permissions_for_a_person_and_an_api_client(edge):
    api, admin = (edge.api_username, edge.api_password), (edge.admin_username, edge.admin_password)
    created = call(edge, "POST", "/api/2.0/mlflow/experiments/create", "alice", {"name": "alice-owns-this"})
    assert created.status_code == 200, created.text
    exp = created.json()["experiment_id"]
    # default_permission READ (server.defaultPermission of the prod stack): read, never change.
    assert call(edge, "GET", f"/api/2.0/mlflow/experiments/get?experiment_id={exp}", api).status_code == 200
    rename = {"experiment_id": exp, "new_name": "renamed-by-api"}
    assert call(edge, "POST", "/api/2.0/mlflow/experiments/update", api, rename).status_code == 403
    assert call(edge, "POST", "/api/2.0/mlflow/experiments/delete", api, {"experiment_id": exp}).status_code == 403
    # The creator manages it: alice grants EDIT, and MLflow applies it.
    grant = {"username": edge.api_username, "resource_type": "experiment", "resource_id": exp, "permission": "EDIT"}
    granted = call(edge, "POST", "/api/3.0/mlflow/users/permissions/grant", "alice", grant)
    assert granted.status_code == 200, granted.text
    assert call(edge, "POST", "/api/2.0/mlflow/experiments/update", api, rename).status_code == 200
    # EDIT is not MANAGE: still no delete.
    assert call(edge, "POST", "/api/2.0/mlflow/experiments/delete", api, {"experiment_id": exp}).status_code == 403
    # The admin may do anything.
    assert call(edge, "POST", "/api/2.0/mlflow/experiments/delete", admin, {"experiment_id": exp}).status_code == 200


def test_registered_model_permissions(edge):
    api = (edge.api_username, edge.api_password)
    created = call(edge, "POST", "/api/2.0/mlflow/registered-models/create", api, {"name": "api-client-model"})
    assert created.status_code == 200, created.text
    assert call(edge, "GET", "/api/2.0/mlflow/registered-models/get?name=api-client-model", "alice").status_code == 200
    assert call(edge, "PATCH", "/api/2.0/mlflow/registered-models/update", "alice", {"name": "api-client-model", "description": "x"}).status_code == 403
    assert call(edge, "DELETE", "/api/2.0/mlflow/registered-models/delete", "alice", {"name": "api-client-model"}).status_code == 403
    assert call(edge, "PATCH", "/api/2.0/mlflow/registered-models/update", api, {"name": "api-client-model", "description": "mine"}).status_code == 200


def test_only_the_admin_administers_users(edge):
    admin = (edge.admin_username, edge.admin_password)
    body = {"username": "carol-api", "password": "c" * 20}
    assert call(edge, "POST", "/api/2.0/mlflow/users/create", "alice", body).status_code == 403
    assert call(edge, "POST", "/api/2.0/mlflow/users/create", (edge.api_username, edge.api_password), body).status_code == 403
    assert call(edge, "POST", "/api/2.0/mlflow/users/create", admin, body).status_code == 200


def test_mlflow_believes_remote_user_only_with_the_edge_secret(edge):
    """Straight to MLflow, past Traefik (which the security groups forbid): a claimed identity
    without the edge's secret, or of a user MLflow does not know, opens nothing."""
    url = f"http://127.0.0.1:{edge.mlflow_port}/api/2.0/mlflow/experiments/search?max_results=1"
    host = {"Host": edge.domain}
    assert requests.get(url, headers={**host, "Remote-User": edge.admin_username}, timeout=30).status_code == 401
    assert requests.get(url, headers={**host, "Remote-User": edge.admin_username, "X-Mlflow-Kit-Edge": "x" * 48}, timeout=30).status_code == 401
    assert requests.get(url, headers={**host, "X-Mlflow-Kit-Edge": edge.edge_secret}, timeout=30).status_code == 401
    assert requests.get(url, headers={**host, "Remote-User": "mallory", "X-Mlflow-Kit-Edge": edge.edge_secret}, timeout=30).status_code == 403
    assert requests.get(url, headers={**host, "Remote-User": "alice", "X-Mlflow-Kit-Edge": edge.edge_secret}, timeout=30).status_code == 200


def test_a_rotated_api_password_takes_effect_at_the_next_rollout(edge, mlflow_env, edge_credentials):
    """rotation.apiUserPassword gives the API user a new password: the ECS migrate container of
    the next rollout (MLFLOW_MIGRATE=only) sets it in MLflow's auth database."""
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    new_password = "rotated-" + edge_credentials.api_password[:24]
    env = dict(mlflow_env, **edge_mlflow_env(edge_credentials, api_password=new_password), MLFLOW_MIGRATE="only")
    rc, output = image_conftest.run_entrypoint(env)
    assert rc == 0, output
    assert "password set from MLFLOW_API_USER_PASSWORDS (rotated)" in output
    assert new_password not in output and edge_credentials.edge_secret not in output
    store = SqlAlchemyStore()
    # As the entrypoint hands it to SQLAlchemy (images/mlflow/entrypoint.py sqlalchemy_uri).
    store.init_db(re.sub(r"^postgresql://", "postgresql+psycopg2://", mlflow_env["MLFLOW_AUTH_DATABASE_URI"]))
    try:
        assert store.authenticate_user(edge.api_username, new_password)
        assert not store.authenticate_user(edge.api_username, edge.api_password)
    finally:
        store.engine.dispose()
    path = "/api/2.0/mlflow/experiments/search?max_results=1"
    assert edge.get(edge.domain, path, auth=(edge.api_username, new_password), headers=JSON).status_code == 200
    # The rotated password is the API user's from now on, for the other tests of this session.
    edge.api_password = edge_credentials.api_password = new_password
