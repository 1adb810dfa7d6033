"""Fixtures for running generated pipelines for real: gitlab-ci-local, and meta as a wheel for the runner.

``scripts/pipeline-tools.sh`` (``make test`` runs it; so do these fixtures
when something is missing) installs gitlab-ci-local and the Node.js 22 it
needs into ``tests/pipeline/.node/``, and collects the wheels of
metarepo[contracts]'s dependencies into ``tests/pipeline/.wheels/``: the
runners install meta from there with no index, so the tests themselves
reach no network. The
Docker engine, registry and swarm are the image tests' (``tests/images``):
their fixtures are per folder in pytest, so a run that takes both folders
starts a second private engine for this one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(__file__).resolve().parent / ".node" / "node_modules" / ".bin"
WHEELS = Path(__file__).resolve().parent / ".wheels"


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the real pipeline tests cannot run: {why}")
    pytest.skip(why)


def _install_tools() -> None:
    if (TOOLS / "gitlab-ci-local").exists() and (WHEELS / "installed").exists():
        return
    proc = subprocess.run(["sh", str(ROOT / "scripts" / "pipeline-tools.sh")], capture_output=True, text=True,
                          timeout=900, env={**os.environ, "PYTHON": sys.executable})
    if proc.returncode != 0:
        _unavailable(f"scripts/pipeline-tools.sh failed: {proc.stderr.strip()[-300:]}")


@pytest.fixture(scope="session")
def gitlab_ci_local() -> Path:
    """The folder holding ``gitlab-ci-local`` and the ``node`` it runs on (put it first on PATH)."""
    _install_tools()
    if not (TOOLS / "gitlab-ci-local").exists():
        _unavailable("gitlab-ci-local is not installed (npm is missing: apt-get install npm, then "
                     "sh scripts/pipeline-tools.sh)")
    for tool, package in (("rsync", "rsync"), ("docker", "docker.io"), ("bash", "bash")):
        if shutil.which(tool) is None:
            _unavailable(f"{tool} is not installed (apt-get install {package})")
    return TOOLS


@pytest.fixture(scope="session")
def metarepo_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout of metarepo as a wheel: what the pipelines' `ci_install` installs on the runner.

    Built with no index (setuptools from the wheels folder); the runners'
    pip installs its dependencies from there too (``runner_pip_env``).
    """
    _install_tools()
    if not (WHEELS / "installed").exists():
        _unavailable("the wheels metarepo needs are not collected (see scripts/pipeline-tools.sh)")
    source = tmp_path_factory.mktemp("metarepo-src")
    shutil.copy2(ROOT / "pyproject.toml", source)
    shutil.copy2(ROOT / "README.md", source)
    shutil.copytree(ROOT / "metarepo", source / "metarepo", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(source), "-w", str(out)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **runner_pip_env()})
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = out.glob("metarepo-*.whl")
    return wheel


def runner_pip_env() -> dict[str, str]:
    """pip settings for the runners (and the wheel's build): every package from the wheels folder, no index."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELS)}
