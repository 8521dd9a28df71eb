"""The public origin and host per target, from both sides of the runtime contract: the env
infra/runtime-contract.ts computes for each stack (stacks/runtime-env.ts) goes through the
entrypoint's validation and becomes MLflow's --allowed-hosts and --cors-allowed-origins.

MLflow 3.17 (mlflow/server/security_utils.py, should_block_cors_request) answers 403 "Cross-origin
request blocked" to a POST/PUT/PATCH/DELETE under /api/ or /ajax-api/ whose Origin is neither
loopback nor in MLFLOW_SERVER_CORS_ALLOWED_ORIGINS (what --cors-allowed-origins sets), and the UI
sends its reads (runs/search, ...) as POST: each target's public origin must be allowed, and no
other. The same variable drives the CORS answers (fastapi_security.py, CORSMiddleware).
"""

import importlib.util
import json
from types import SimpleNamespace

import pytest
from conftest import ENTRYPOINT, ROOT
from helpers import runtime_env, token

spec = importlib.util.spec_from_file_location("entrypoint_origin", ENTRYPOINT)
entrypoint = importlib.util.module_from_spec(spec)
spec.loader.exec_module(entrypoint)

CONTRACT = json.loads((ROOT / "images" / "mlflow" / "contract.json").read_text())["variables"]
PORT = 18080

# stack -> (public host, origins, the target it deploys to)
TARGETS = {
    "dev": ("mlflow-kit-dev.onrender.com", ["https://mlflow-kit-dev.onrender.com"]),  # render
    "demo": ("example-org-mlflow-kit-demo.hf.space",
             ["https://example-org-mlflow-kit-demo.hf.space"]),  # hf-space
    "prod": ("mlflow.example.com", ["https://mlflow.example.com"]),  # ecs
    "local": ("localhost", [f"http://localhost:{PORT}", f"http://127.0.0.1:{PORT}"]),
}


def stack_env(stack):
    fake_s3 = SimpleNamespace(endpoint="http://127.0.0.1:9", access_key_id="AKIA" + "X" * 16,
                              secret_access_key=token(40))
    return runtime_env(stack, "postgresql://u:pw@127.0.0.1:5432/tracking",
                       "postgresql://u:pw@127.0.0.1:5432/auth", fake_s3, PORT, token(24),
                       token(48))


def flag(args, name):
    return args[args.index(name) + 1]


@pytest.mark.parametrize("stack", sorted(TARGETS))
def test_each_target_allows_its_public_origin_and_host_and_nothing_else(stack):
    host, origins = TARGETS[stack]
    settings, problems = entrypoint.validate(CONTRACT, stack_env(stack))
    assert problems == []
    args = entrypoint.server_args(entrypoint.normalize(settings))
    assert flag(args, "--cors-allowed-origins").split(",") == origins
    hosts = flag(args, "--allowed-hosts").split(",")
    assert host in hosts and f"{host}:{PORT}" in hosts
    # Besides the public host only loopback (the platforms' health checks, local use).
    assert set(hosts) - {host, f"{host}:{PORT}"} <= {"localhost", f"localhost:{PORT}",
                                                     "127.0.0.1", f"127.0.0.1:{PORT}"}


@pytest.mark.parametrize("origin, blocked", [
    ("https://mlflow-kit-dev.onrender.com", False),
    ("https://evil.example.net", True),
    ("http://mlflow-kit-dev.onrender.com", True),  # the public host is https only
    ("https://mlflow-kit-dev.onrender.com.evil.example.net", True),
    ("null", True),
    ("http://localhost:3000", False),  # loopback: always allowed by MLflow itself
])
def test_mlflow_blocks_exactly_the_origins_the_render_stack_does_not_allow(origin, blocked):
    # MLflow's own decision function with the argument the dev stack's env produces.
    from mlflow.server.security_utils import should_block_cors_request

    settings, _ = entrypoint.validate(CONTRACT, stack_env("dev"))
    allowed = flag(entrypoint.server_args(settings), "--cors-allowed-origins").split(",")
    assert should_block_cors_request(origin, "POST", allowed) is blocked
