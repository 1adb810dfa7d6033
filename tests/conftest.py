"""Shared fixtures: real git repositories and bare remotes on a temp dir, and `meta` run for real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

from make_fleet import make_fleet, make_meta_repo, publish  # noqa: E402

pytest_plugins = ["tests.servers.fixtures",  # haproxy, nginx, prometheus, ... started from their Debian packages
                  "tests.engine_fixtures"]  # the Docker engine, registry and swarm

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    (tmp_path / "gitconfig").write_text("[init]\n\tdefaultBranch = master\n[protocol \"file\"]\n\tallow = always\n")
    monkeypatch.delenv("META_JOBS", raising=False)


def run_meta(*args: str, cwd: Path | str | None = None, env: dict | None = None, timeout: float = 120,
             input: str | None = None) -> subprocess.CompletedProcess[str]:
    """`meta ARGS` as a user runs it: a real process, its exit status and its output."""
    return subprocess.run([sys.executable, "-m", "metarepo", *args], cwd=cwd, capture_output=True, text=True,
                          errors="replace", env={**os.environ, **(env or {})}, timeout=timeout,
                          stdin=subprocess.DEVNULL if input is None else None, input=input)


def git(*args: str, cwd: Path | str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def meta():
    return run_meta


@pytest.fixture(scope="session")
def _fleet_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    remotes = tmp_path_factory.mktemp("fleet-template")
    make_fleet(remotes)
    return remotes / "remotes"


@pytest.fixture
def fleet(tmp_path: Path, _fleet_template: Path) -> str:
    """The example fleet as bare remotes (a fresh copy per test); returns the meta repo URL."""
    remotes = tmp_path / "fleet" / "remotes"
    shutil.copytree(_fleet_template, remotes, ignore=lambda d, names: ["meta.git"] if d == str(_fleet_template) else [])
    names = sorted(p.name[:-4] for p in remotes.iterdir())
    return make_meta_repo(remotes, names)


@pytest.fixture
def workspace(tmp_path: Path, fleet: str) -> Path:
    """The example fleet cloned with `meta clone`; returns the meta repo's folder."""
    dest = tmp_path / "ws"
    proc = run_meta("clone", fleet, str(dest))
    assert proc.returncode == 0, proc.stderr
    return dest


def read_manifest(root: Path) -> dict:
    return json.loads((root / ".meta").read_text())
