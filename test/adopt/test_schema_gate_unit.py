"""The upgrade gate's decisions (images/mlflow/schema_gate.py) against the migration scripts of
the MLflow installed in the image's venv, without a database."""

import importlib.util

import pytest
from conftest import ROOT

spec = importlib.util.spec_from_file_location("schema_gate", ROOT / "images/mlflow/schema_gate.py")
gate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gate)

TRACKING = gate.migration_scripts("tracking")
AUTH = gate.migration_scripts("auth")
HEAD = TRACKING.get_current_head()
# A 3.x revision that is not the head: the parent of the head.
OLDER_3X = TRACKING.get_revision(HEAD).down_revision
HINT = "pg_dump of both"


def decide(schema, migrate="auto", allow_major=False, kind="tracking"):
    scripts = TRACKING if kind == "tracking" else AUTH
    return gate.decide(kind, schema, scripts, migrate, allow_major, HINT, "3.x")


def test_the_last_2x_head_is_a_real_ancestor_of_the_image_head():
    assert gate.LAST_2X_TRACKING_HEAD in gate.ancestors(TRACKING, HEAD)
    assert HEAD != gate.LAST_2X_TRACKING_HEAD
    assert not gate.is_2x_schema(TRACKING, OLDER_3X)
    # An older revision shipped in 2.21.3 (mlflow/store/db_migrations/versions/acf3f17fdcc7_*.py).
    assert gate.is_2x_schema(TRACKING, "acf3f17fdcc7")


@pytest.mark.parametrize("migrate", ["auto", "only"])
def test_empty_initializes_and_head_starts(migrate):
    assert decide(gate.Schema("empty"), migrate) == "initialize"
    assert decide(gate.Schema("versioned", HEAD), migrate) == "start"
    assert decide(gate.Schema("versioned", HEAD), "off") == "start"


def test_off_refuses_an_empty_or_older_database():
    with pytest.raises(gate.GateRefusal, match="empty and MLFLOW_MIGRATE=off"):
        decide(gate.Schema("empty"), "off")
    with pytest.raises(gate.GateRefusal, match=f"{OLDER_3X}, older .* MLFLOW_MIGRATE=off"):
        decide(gate.Schema("versioned", OLDER_3X), "off")


def test_an_older_3x_schema_is_upgraded_by_auto_and_only():
    assert decide(gate.Schema("versioned", OLDER_3X), "auto") == "upgrade"
    assert decide(gate.Schema("versioned", OLDER_3X), "only") == "upgrade"


@pytest.mark.parametrize("revision", [gate.LAST_2X_TRACKING_HEAD, "acf3f17fdcc7", None])
@pytest.mark.parametrize("migrate", ["auto", "only", "off"])
def test_a_2x_schema_is_refused_without_the_explicit_setting(revision, migrate):
    with pytest.raises(gate.GateRefusal) as refused:
        decide(gate.Schema("versioned", revision), migrate)
    message = str(refused.value)
    assert "MLflow 2.x schema" in message and "MLFLOW_ALLOW_MAJOR_UPGRADE=true" in message
    assert HINT in message and "\n" not in message


def test_a_2x_schema_is_upgraded_with_the_setting_but_never_by_off():
    schema = gate.Schema("versioned", gate.LAST_2X_TRACKING_HEAD)
    assert decide(schema, "auto", allow_major=True) == "upgrade"
    assert decide(schema, "only", allow_major=True) == "upgrade"
    with pytest.raises(gate.GateRefusal, match="MLFLOW_MIGRATE=auto or only"):
        decide(schema, "off", allow_major=True)


@pytest.mark.parametrize("kind", ["tracking", "auth"])
def test_an_unknown_revision_is_refused_by_name(kind):
    with pytest.raises(gate.GateRefusal, match="at schema revision 0123abcdef99, which MLflow"):
        decide(gate.Schema("versioned", "0123abcdef99"), "auto", allow_major=True, kind=kind)


def test_a_legacy_auth_database_is_upgraded_not_treated_as_a_major_jump():
    # Auth databases made before MLflow 3.6 have users but no alembic_version_auth.
    assert decide(gate.Schema("versioned", None), "auto", kind="auth") == "upgrade"
    with pytest.raises(gate.GateRefusal, match="MLFLOW_MIGRATE=off"):
        decide(gate.Schema("versioned", None), "off", kind="auth")
