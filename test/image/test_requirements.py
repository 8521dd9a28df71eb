"""The image's lock is in step with what the image asks for, and is what the test venv runs."""

import importlib.metadata
import re

from conftest import ROOT

MLFLOW = ROOT / "images" / "mlflow"


def pins(text):
    found = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s\\;]+)", line)
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def test_every_requested_pin_is_locked_at_the_same_version():
    wanted = pins((MLFLOW / "requirements.txt").read_text())
    locked = pins((MLFLOW / "requirements.lock").read_text())
    assert wanted, "requirements.txt pins nothing"
    for name, version in wanted.items():
        assert locked.get(name) == version, f"{name}: requirements.txt {version}, lock {locked.get(name)}"


def test_every_locked_package_has_hashes():
    text = (MLFLOW / "requirements.lock").read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[1]):
        if "==" in block.splitlines()[0]:
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_the_test_venv_runs_the_locked_versions():
    locked = pins((MLFLOW / "requirements.lock").read_text())
    for name, version in locked.items():
        assert importlib.metadata.version(name) == version, name


def wanted_by_a_test_tool(name):
    """Distributions other than mlflow that declare `name` (moto[server] wants docker)."""
    found = []
    for dist in importlib.metadata.distributions():
        if dist.metadata["Name"].lower().startswith("mlflow"):
            continue
        if any(re.match(rf"{re.escape(name)}\b", req, re.I) for req in dist.requires or []):
            found.append(dist.metadata["Name"])
    return found


def test_what_requirements_txt_leaves_out_is_not_in_the_test_venv():
    # The e2e runs in this venv too: with these absent, every server path it exercises works
    # without them. (The container test checks the image, where none may be.)
    text = (MLFLOW / "requirements.txt").read_text()
    left_out = re.search(r"^# not-installed: *(.+)$", text, re.M).group(1).split()
    assert "scikit-learn" in left_out and "matplotlib" in left_out
    for name in left_out:
        assert name not in pins((MLFLOW / "requirements.lock").read_text()), name
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        assert wanted_by_a_test_tool(name), f"{name} is installed in the test venv"
