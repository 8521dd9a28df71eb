"""MLflow's `@app.middleware("http")` functions, skipped where they would only pass a request on.

MLflow 3.17's FastAPI app (with the basic-auth app) wraps every request in three middlewares
written as Starlette `BaseHTTPMiddleware` dispatch functions: the workspace context, the gateway
timing and the auth app's permission check for native FastAPI routes. BaseHTTPMiddleware runs
the rest of the app in a new task and streams the response back through an in-memory channel;
py-spy on one worker under 16 clients (bench/image) found the event loop holding the GIL for
about 80% of the server's Python time, most of it in these layers, for a log-metric request
that none of the three acts on (a Flask route: Flask's before_request authenticates it).

Each wrapper below asks MLflow's own functions whether the dispatch function would do anything
but `call_next` for this request; if not, it calls the next app directly, and otherwise runs
the original dispatch function through BaseHTTPMiddleware exactly as MLflow would. Nothing is
decided here that MLflow does not decide the same way: the permission middleware's pass-through
is MLflow's own condition (unprotected route, or no FastAPI validator and not denied by
fail-closed), evaluated with MLflow's functions and the same snapshot of native routes.

Written against the dispatch functions of the MLflow the lock installs (PINNED_MLFLOW); with
any other version nothing is replaced. test/image/test_lean_middleware.py pins the source of
each dispatch function, so a bump of MLflow fails there until the conditions are re-checked.
"""

import inspect
import logging

PINNED_MLFLOW = "3.17.2"

_logger = logging.getLogger("mlflow_kit.lean_middleware")

WORKSPACE = "add_fastapi_workspace_middleware.<locals>.workspace_context_middleware"
GATEWAY = "add_gateway_timing_middleware.<locals>.gateway_timing_middleware"
PERMISSION = "add_fastapi_permission_middleware.<locals>.fastapi_permission_middleware"


class _PassThrough:
    """Calls the next app directly when `passes(scope)`; otherwise the original dispatch."""

    def __init__(self, app, dispatch, passes):
        from starlette.middleware.base import BaseHTTPMiddleware

        self.app = app
        self.passes = passes
        self.original = BaseHTTPMiddleware(app, dispatch=dispatch)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.passes(scope):
            await self.app(scope, receive, send)
        else:
            await self.original(scope, receive, send)


class _WorkspaceContext(_PassThrough):
    """workspace_context_middleware: resolve, set the request workspace, call on, clear.

    With workspaces off (the kit never turns them on) MLflow resolves None; that case is run
    here with MLflow's own functions. Anything else (a workspace, or a refusal) goes to it."""

    async def __call__(self, scope, receive, send):
        from mlflow.server.workspace_helpers import (
            WORKSPACE_HEADER_NAME, resolve_workspace_for_request_if_enabled)
        from mlflow.utils import workspace_context
        from starlette.datastructures import Headers

        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            workspace = resolve_workspace_for_request_if_enabled(
                scope.get("path") or "", Headers(scope=scope).get(WORKSPACE_HEADER_NAME))
        except Exception:  # MLflow answers it (an error response): let it.
            workspace = _ORIGINAL
        if workspace is not None:
            await self.original(scope, receive, send)
            return
        workspace_context.set_server_request_workspace(None)
        try:
            await self.app(scope, receive, send)
        finally:
            workspace_context.clear_server_request_workspace()


_ORIGINAL = object()


def _gateway_passes(dispatch):
    prefix = inspect.getclosurevars(dispatch).nonlocals["gateway_path_prefix"]

    def passes(scope):
        # gateway_timing_middleware: `if not path.startswith(prefix): return await call_next()`
        return not (scope.get("path") or "").startswith(prefix)

    return passes


def _permission_passes(dispatch):
    from mlflow.environment_variables import MLFLOW_BASIC_AUTH_FAIL_CLOSED
    import mlflow.server.auth as auth

    native_routes = inspect.getclosurevars(dispatch).nonlocals["native_routes"]

    def passes(scope):
        # fastapi_permission_middleware returns `await call_next(request)` untouched for an
        # unprotected route, and for a route without a FastAPI validator unless fail-closed
        # denies it (a native route not known to be ungated): the same two conditions.
        path = scope.get("path") or ""
        if auth.is_unprotected_route(path):
            return True
        if auth._find_fastapi_validator(path, scope["method"]) is not None:
            return False
        denied = (MLFLOW_BASIC_AUTH_FAIL_CLOSED.get()
                  and auth._scope_matches_native_route(native_routes, scope)
                  and not any(m in path for m in auth._KNOWN_UNGATED_FASTAPI_ROUTE_MARKERS))
        return not denied

    return passes


def _replacement(dispatch):
    """(wrapper class, passes) for a dispatch function this module knows, else None."""
    name = getattr(dispatch, "__qualname__", "")
    module = getattr(dispatch, "__module__", "")
    if name == WORKSPACE and module == "mlflow.server.fastapi_app":
        return _WorkspaceContext, (lambda scope: False)
    if name == GATEWAY and module == "mlflow.server.fastapi_app":
        return _PassThrough, _gateway_passes(dispatch)
    if name == PERMISSION and module == "mlflow.server.auth":
        return _PassThrough, _permission_passes(dispatch)
    return None


def apply(app):
    """Replaces the known BaseHTTPMiddleware entries of a FastAPI app (before it serves).

    Returns the names replaced; with another MLflow than PINNED_MLFLOW, replaces nothing."""
    from importlib.metadata import version

    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware

    if version("mlflow") != PINNED_MLFLOW:
        _logger.warning("lean_middleware: written for MLflow %s, this is %s: not applied",
                        PINNED_MLFLOW, version("mlflow"))
        return []
    if getattr(app, "middleware_stack", None) is not None:
        raise RuntimeError("lean_middleware.apply: the app already serves")
    replaced = []
    for index, entry in enumerate(list(app.user_middleware)):
        dispatch = entry.kwargs.get("dispatch") if entry.cls is BaseHTTPMiddleware else None
        found = _replacement(dispatch) if dispatch else None
        if found:
            cls, passes = found
            app.user_middleware[index] = Middleware(cls, dispatch=dispatch, passes=passes)
            replaced.append(dispatch.__name__)
    return replaced
