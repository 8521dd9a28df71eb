"""Fixtures of the adoption test. Postgres, moto's S3 and the real entrypoint come from the image
test's harness (test/image/conftest.py, helpers.py); the MLflow 2.x servers and clients run from
their own venvs (test/adopt/setup.sh links them at .cache/venvs/mlflow-<version>)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "image"))
import helpers  # noqa: E402  (test/image/helpers.py)
from helpers import ROOT  # noqa: E402,F401

image_conftest = helpers.image_conftest()
postgres = image_conftest.postgres  # session fixture: a throwaway cluster
s3 = image_conftest.s3  # session fixture: moto's S3 server
make_env = image_conftest.make_env  # the dev stack's runtime env on a fresh database pair

# The MLflow 2.x servers the adoption test adopts (the deployments the kit replaces ran 2.9 and
# 2.21), each with the last tracking schema revision it ships (its migrations' head).
MLFLOW2_HEADS = {"2.21.3": "0584bdc529eb", "2.9.2": "acf3f17fdcc7"}


def mlflow2_python(version):
    python = ROOT / ".cache" / "venvs" / f"mlflow-{version}" / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"no venv for MLflow {version} at {python.parent.parent}: "
                           "run bash test/adopt/setup.sh (npm run test:adopt does)")
    return python
