"""The scorecard's fleet (tests/doctor/services.py), cloned once per module with `meta clone` and its
pipelines written with `meta ci generate`; tests that change it get their own copy (``doctor_ws``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, run_meta
from tests.doctor.services import build_fleet, copy_workspace


def git_env(home: Path) -> dict[str, str]:
    config = home / "gitconfig"
    config.write_text("[init]\n\tdefaultBranch = master\n[protocol \"file\"]\n\tallow = always\n")
    return {**GIT_ENV, "GIT_CONFIG_GLOBAL": str(config)}


@pytest.fixture(scope="module")
def doctor_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The meta repo's folder, every service cloned, pipelines generated, and then one of them edited."""
    base = tmp_path_factory.mktemp("doctor-fleet")
    env = git_env(base)
    url = build_fleet(base / "fleet")
    ws = base / "ws"
    for args in (("clone", url, str(ws)), ("-C", str(ws), "ci", "generate", "--exclude", "noci")):
        proc = run_meta(*args, env=env)
        assert proc.returncode == 0, proc.stderr
    pipeline = ws / "services" / "drifted" / ".github" / "workflows" / "cd.yml"
    pipeline.write_text(pipeline.read_text() + "# edited by hand\n")
    return ws


@pytest.fixture
def doctor_ws(doctor_fleet: Path, tmp_path: Path) -> Path:
    """A copy of the module's workspace, for a test that changes it."""
    return copy_workspace(doctor_fleet, tmp_path / "ws")


def edit_manifest(root: Path, change) -> None:
    file = root / ".meta"
    data = json.loads(file.read_text())
    change(data)
    file.write_text(json.dumps(data, indent=2) + "\n")


def doctor_json(root: Path, *args: str) -> tuple[int, dict, str]:
    proc = run_meta("-C", str(root), "doctor", "--json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr
