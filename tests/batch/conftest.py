"""A fast private fleet per test: the example fleet is made and cloned once, then copied.

Each test gets its own copy of the bare remotes and the workspace, with every
``file://`` URL (in ``.meta`` and in each clone's ``.git/config``) rewritten
to the copy, so pushes from one test never reach another's remotes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def fleet_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import GIT_ENV, make_fleet, run_meta

    base = tmp_path_factory.mktemp("batch-fleet")
    gitconfig = base / "gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = master\n")
    url = make_fleet(base / "fleet")
    proc = run_meta("clone", url, str(base / "ws"), env={**GIT_ENV, "GIT_CONFIG_GLOBAL": str(gitconfig)})
    assert proc.returncode == 0, proc.stderr
    return base


@pytest.fixture
def workspace(fleet_template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(fleet_template, copy, symlinks=True)
    old, new = str(fleet_template / "fleet"), str(copy / "fleet")
    files = [copy / "ws" / ".meta", copy / "ws" / ".git" / "config"]
    files += list((copy / "ws" / "services").glob("*/.git/config"))
    for file in files:
        file.write_text(file.read_text().replace(old, new))
    return copy / "ws"
