"""MLflow's authorization_function behind the ECS edge (Traefik + Authelia).

Two paths reach MLflow there, and only through Traefik (the tasks' security group admits
Traefik alone):
- API clients send `Authorization: Basic`: Traefik routes them straight here (rate-limited per
  client address) and MLflow's own basic-auth check decides, so no stranger can lock an API
  user out (MLflow has no lockout; Authelia's regulation would ban the user by name).
- People sign in at Authelia's portal; Traefik asks Authelia (forward-auth), and on success
  sends `Remote-User` with the edge's secret in X-Mlflow-Kit-Edge. Traefik deletes every
  client-sent spelling of both headers on every route first.

Remote-User is believed only together with the edge secret (compared in constant time), so a
request that reached MLflow some other way cannot claim an identity. Everything else falls back
to MLflow's Basic check. Either way the user must exist in MLflow's auth database (the
entrypoint creates target.users there), and MLflow's own permissions (READ/EDIT/MANAGE per
experiment and registered model, default_permission) apply.

MLflow 3.17 calls this for Flask routes (_before_request) and, through its request bridge, for
FastAPI routes (mlflow/server/auth/__init__.py, _authenticate_custom_for_fastapi). Configured by
the entrypoint as `authorization_function = edge_auth:authenticate_request` in basic_auth.ini,
which also holds `edge_secret`.
"""

import configparser
import functools
import hmac
import os
import re

from flask import Response, request
from werkzeug.datastructures import Authorization

IDENTITY_HEADER = "Remote-User"
SECRET_HEADER = "X-Mlflow-Kit-Edge"
# Authelia usernames as settings.ts admits them (target.users).
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")


@functools.lru_cache(maxsize=1)
def edge_secret():
    path = os.environ.get("MLFLOW_AUTH_CONFIG_PATH", "")
    config = configparser.ConfigParser(interpolation=None)
    config.read(path)
    secret = config.get("mlflow", "edge_secret", fallback="")
    if len(secret) < 32:
        raise RuntimeError("edge_auth: basic_auth.ini has no edge_secret of 32+ characters")
    return secret


def _refuse(status, message):
    return Response(message, status=status, mimetype="text/plain")


def authenticate_request():
    from mlflow.server.auth import authenticate_request_basic_auth, store

    claimed = request.headers.get(IDENTITY_HEADER)
    given = request.headers.get(SECRET_HEADER)
    if claimed is None and given is None:
        return authenticate_request_basic_auth()
    # Either header without the other, or a wrong secret: not from the edge. Refuse rather
    # than fall back, so a forged identity is never half-believed.
    if claimed is None or given is None or not hmac.compare_digest(given.encode(), edge_secret().encode()):
        return _refuse(401, "identity headers without the edge's secret")
    if not USERNAME.match(claimed) or not store.has_user(claimed):
        return _refuse(403, f"{claimed!r} is signed in at the portal but is not an MLflow user")
    return Authorization("basic", {"username": claimed})
