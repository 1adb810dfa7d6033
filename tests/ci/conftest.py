"""Helpers for the CI tests: the validators run on their own over files `meta ci generate` wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SERVICES = ("orders", "billing", "shipping", "notifications", "gateway")
FILES = {"github": ".github/workflows/cd.yml", "circleci": ".circleci/config.yml", "gitlab": ".gitlab-ci.yml",
         "jenkins": "Jenkinsfile", "travis": ".travis.yml"}


def edit_manifest(root: Path, change) -> None:
    file = root / ".meta"
    data = json.loads(file.read_text())
    change(data)
    file.write_text(json.dumps(data, indent=2) + "\n")


@pytest.fixture
def edit():
    return edit_manifest


@pytest.fixture(scope="session")
def cloned_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example fleet cloned once per session with `meta clone`; tests get a copy (see ``ws``)."""
    from conftest import GIT_ENV, make_fleet, run_meta

    base = tmp_path_factory.mktemp("ci-fleet")
    gitconfig = base / "gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = master\n")
    url = make_fleet(base / "fleet")
    proc = run_meta("clone", url, str(base / "ws"), env={**GIT_ENV, "GIT_CONFIG_GLOBAL": str(gitconfig)})
    assert proc.returncode == 0, proc.stderr
    return base / "ws"


@pytest.fixture
def ws(cloned_fleet: Path, tmp_path: Path) -> Path:
    """A private copy of the cloned example fleet (its clones still point at the shared bare remotes)."""
    import shutil

    dest = tmp_path / "ws"
    shutil.copytree(cloned_fleet, dest, symlinks=True)
    return dest
