"""What only the built image can show (test/image/run.sh builds it): its own HEALTHCHECK, the
user it runs as, a read-only root, how it stops, what its config and history hold, and which
packages it ships. Tracking, artifacts and auth in the container: test_server_basic.py."""

import json
import re
import signal
import subprocess
from urllib.parse import urlsplit

import pytest
import requests
from conftest import (IMAGE, RUN_LABEL, ROOT, STOP_GRACE_SECONDS, assert_no_secret, docker,
                      docker_json, free_port, secret_values, token, wait_until, write_env_file)

CONTRACT = json.loads((ROOT / "images" / "mlflow" / "contract.json").read_text())
SECRET_NAMES = [v["name"] for v in CONTRACT["variables"] if v["secret"]]
REQUIREMENTS = (ROOT / "images" / "mlflow" / "requirements.txt").read_text()
LEFT_OUT = re.search(r"^# not-installed: *(.+)$", REQUIREMENTS, re.M).group(1).split()
# Import names of the packages left out, where they differ.
IMPORT_NAMES = {"scikit-learn": "sklearn"}
# Docker runs the first health check one interval after the start (30 s in the Dockerfile).
HEALTHY_DEADLINE_SECONDS = 150

pytestmark = pytest.mark.skipif(not IMAGE, reason="no image built: run test/image/run.sh")


@pytest.fixture(scope="module")
def env(make_env):
    env, _ = make_env("container")
    return env


@pytest.fixture(scope="module")
def server(env, start_server):
    return start_server(env, "container")


def image_config():
    return docker_json("image", "inspect", IMAGE)[0]


def test_runs_as_uid_1000(server):
    assert image_config()["Config"]["User"] == "1000:1000"
    root = server.main_process()
    for proc in [root, *root.children(recursive=True)]:
        assert proc.uids().real == proc.uids().effective == 1000, proc.cmdline()[:3]


def test_root_filesystem_is_read_only(server):
    assert server.inspect()["HostConfig"]["ReadonlyRootfs"] is True
    write = docker("exec", server.container, "sh", "-c", "touch /home/mlflow/x", check=False)
    assert write.returncode != 0 and "Read-only file system" in write.stderr
    # The one place it writes besides /dev/shm: the tmpfs at /tmp.
    assert docker("exec", server.container, "sh", "-c", "touch /tmp/x && rm /tmp/x").returncode == 0


def test_no_secret_in_the_image_config_or_history(server, env):
    config = image_config()
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE).stdout
    baked = json.dumps(config["Config"]) + json.dumps(config.get("ContainerConfig") or {}) + history
    for name in SECRET_NAMES:
        # Neither an ENV nor an ARG of a secret variable in any layer.
        assert not re.search(rf"\b{name}\b", baked), f"{name} appears in the image's config/history"
    assert_no_secret(baked, env)
    # The container's config: secrets only in Env (from --env-file), under their own names.
    container = server.inspect()
    variables = dict(item.split("=", 1) for item in container["Config"]["Env"])
    carrying = {name for name, value in variables.items() if value in secret_values(env)}
    assert carrying and carrying <= set(SECRET_NAMES)
    rest = {k: v for k, v in container["Config"].items() if k != "Env"}
    assert_no_secret(json.dumps(rest) + json.dumps(container["HostConfig"]), env)


def test_ships_only_what_the_server_needs(server):
    # mlflow is installed with --no-deps: what pip check finds missing is exactly the list
    # requirements.txt leaves out, and none of it can be imported.
    check = docker("exec", server.container, "pip", "check", check=False).stdout
    missing = sorted(re.findall(r"^mlflow \S+ requires (\S+), which is not installed\.$", check, re.M))
    assert missing == sorted(LEFT_OUT), check
    assert len(check.strip().splitlines()) == len(LEFT_OUT), check
    probe = "import importlib.util, sys; print([m for m in sys.argv[1:] if importlib.util.find_spec(m)])"
    modules = [IMPORT_NAMES.get(name, name) for name in LEFT_OUT]
    found = docker("exec", server.container, "python", "-c", probe, *modules).stdout.strip()
    assert found == "[]"


def test_artifacts_only_server_starts(s3, tmp_path):
    # The artifacts proxy as its own app (`mlflow server --artifacts-only`), from the image.
    region, port = "eu-west-1", free_port()
    bucket = s3.ensure_bucket(f"artifacts-only-{token(6).lower()}", region)
    env_file = write_env_file({"AWS_ACCESS_KEY_ID": s3.access_key_id,
                               "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
                               "AWS_DEFAULT_REGION": region, "MLFLOW_S3_ENDPOINT_URL": s3.endpoint},
                              tmp_path)
    container = docker("run", "-d", "--network", "host", "--env-file", str(env_file),
                       "--label", RUN_LABEL, "--read-only", "--tmpfs", "/tmp",
                       # MLflow opens its default store (sqlite, ./mlflow.db) even with
                       # --artifacts-only: on a read-only root, the working directory is /tmp.
                       "--workdir", "/tmp",
                       "--entrypoint", "mlflow", IMAGE, "server", "--artifacts-only",
                       "--artifacts-destination", f"s3://{bucket}/only", "--host", "127.0.0.1",
                       "--port", str(port), "--workers", "1").stdout.strip()
    url = f"http://127.0.0.1:{port}"
    try:
        def up():
            if not docker_json("inspect", container)[0]["State"]["Running"]:
                return True
            try:
                return requests.get(f"{url}/health", timeout=2).text == "OK"
            except requests.RequestException:
                return False

        wait_until(up, 90, f"/health on {url}")
        assert docker_json("inspect", container)[0]["State"]["Running"], "the server exited"
        body = f"artifact {token(8)}".encode()
        # The first request migrates that sqlite store: a generous timeout on a busy machine.
        put = requests.put(f"{url}/api/2.0/mlflow-artifacts/artifacts/run1/a.txt", data=body,
                           timeout=90)
        assert put.status_code == 200, put.text
        got = requests.get(f"{url}/api/2.0/mlflow-artifacts/artifacts/run1/a.txt", timeout=10)
        assert got.content == body
        assert s3.keys(f"s3://{bucket}/only", region) == ["only/run1/a.txt"]
        # The tracking API is not served by an artifacts-only server.
        assert requests.get(f"{url}/api/2.0/mlflow/experiments/search", timeout=5).status_code != 200
    except Exception:
        logs = docker("logs", container, check=False)
        print(f"container log:\n{logs.stdout}{logs.stderr}")
        raise
    finally:
        docker("rm", "-f", container, check=False)
        env_file.unlink()


def test_refuses_a_bad_env_with_exit_code_2(env, tmp_path):
    bad = {**env, "MLFLOW_ADMIN_PASSWORD": "password1234", "PORT": "0"}
    env_file = write_env_file(bad, tmp_path)
    try:
        run = subprocess.run(["docker", "run", "--rm", *["--network", "host", "--read-only",
                              "--label", RUN_LABEL, "--env-file", str(env_file)], IMAGE],
                             capture_output=True, text=True, timeout=120)
    finally:
        env_file.unlink()
    assert run.returncode == 2, run.stdout + run.stderr
    output = run.stdout + run.stderr
    assert "MLFLOW_ADMIN_PASSWORD" in output and "PORT" in output
    assert_no_secret(output, bad)
    assert urlsplit(env["MLFLOW_BACKEND_STORE_URI"]).password not in output



def test_becomes_healthy_per_its_own_healthcheck(server):
    # Near the end of the module: docker runs the first check one interval (30 s) after the
    # start, and the tests above use that time.
    # The image's HEALTHCHECK, unchanged (the container is run without --health-* flags).
    check = image_config()["Config"]["Healthcheck"]
    assert check["Test"][0] == "CMD" and "/health" in " ".join(check["Test"])
    assert server.inspect()["Config"].get("Healthcheck") in (None, check)

    def healthy():
        return server.inspect()["State"]["Health"]["Status"] == "healthy"

    wait_until(healthy, HEALTHY_DEADLINE_SECONDS, "docker's health status healthy", interval=2)
    log = server.inspect()["State"]["Health"]["Log"]
    assert log and log[-1]["ExitCode"] == 0


def test_sigterm_stops_it_cleanly_within_the_grace_period(server):
    # Last in this module: stops the module's container (docker stop: SIGTERM, then SIGKILL
    # after the grace period, which would show as 137).
    server.stop_gracefully()
    assert server.returncode != 128 + signal.SIGKILL
