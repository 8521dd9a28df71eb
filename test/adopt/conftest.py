"""Fixtures of the adoption test. Postgres, moto's S3 and the real entrypoint come from the image
test's harness (test/image/conftest.py, helpers.py), loaded under their own names; the MLflow 2.x
server and client run from their own venv (.venv-mlflow2, test/adopt/run.sh)."""

import importlib.util
import sys
from pathlib import Path

IMAGE_TESTS = Path(__file__).resolve().parents[1] / "image"
sys.path.insert(0, str(IMAGE_TESTS))
import helpers  # noqa: E402  (test/image/helpers.py)
from helpers import ROOT  # noqa: E402,F401

_spec = importlib.util.spec_from_file_location("image_conftest", IMAGE_TESTS / "conftest.py")
image_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(image_conftest)
postgres = image_conftest.postgres  # session fixture: a throwaway cluster
s3 = image_conftest.s3  # session fixture: moto's S3 server
make_env = image_conftest.make_env  # the dev stack's runtime env on a fresh database pair

MLFLOW2_PYTHON = ROOT / ".venv-mlflow2" / "bin" / "python"
