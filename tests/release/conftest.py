"""Fixtures for the release-train tests: fleets with a release history, real bare remotes, and their refs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, run_meta

from make_fleet import make_fleet, make_meta_repo, publish


def refs(repository: Path) -> bytes:
    """Every ref of a repository and what it points to, exactly as git prints them."""
    return subprocess.run(["git", "for-each-ref", "--format=%(refname) %(objecttype) %(objectname)"],
                          cwd=repository, check=True, capture_output=True).stdout


def clone_state(clone: Path) -> tuple[bytes, str, str]:
    """A clone's refs, HEAD's branch and its work tree status: what a failed train must leave as it found."""
    return refs(clone), git("symbolic-ref", "HEAD", cwd=clone), git("status", "--porcelain", cwd=clone)


def reject_pushes(remote: Path, script: str = 'echo "releases are frozen on this repository" >&2\nexit 1\n') -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\n" + script)
    hook.chmod(0o755)


@pytest.fixture(scope="session")
def _history_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("release-fleet")
    make_fleet(dest, release_history=True)
    return dest / "remotes"


@pytest.fixture
def history_workspace(tmp_path: Path, _history_template: Path) -> Path:
    """The example fleet with its release history (``make_fleet --release-history``), cloned."""
    remotes = tmp_path / "fleet" / "remotes"
    shutil.copytree(_history_template, remotes, ignore=lambda d, n: ["meta.git"] if d == str(_history_template) else [])
    url = make_meta_repo(remotes, sorted(p.name[:-4] for p in remotes.iterdir()), release_history=True)
    proc = run_meta("clone", url, str(tmp_path / "ws"))
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "ws"


NAMES = ("alpha", "bravo", "charlie", "delta", "echo")


def make_plain_fleet(tmp_path: Path, names: tuple[str, ...] = NAMES, *, version: str | None = "1.0.0",
                     extra: dict | None = None, files: dict | None = None) -> Path:
    """Repositories with no Dockerfile (nothing to build): each released at ``version``, then one feat commit.

    ``files`` maps a name to extra files of its first commit. Returns the cloned workspace.
    """
    remotes = tmp_path / "plain" / "remotes"
    remotes.mkdir(parents=True)
    projects = {}
    for name in names:
        src = tmp_path / "plain" / "src" / name
        src.mkdir(parents=True)
        (src / "README.md").write_text(f"# {name}\n")
        (src / "feature.txt").write_text("a feature\n")
        for path, text in ((files or {}).get(name) or {}).items():
            (src / path).write_text(text)
        publish(src, remotes / f"{name}.git", f"chore: {name} begins",
                (version, [(f"feat: {name} gets a feature", ["feature.txt"])]))
        projects[f"services/{name}"] = f"file://{remotes}/{name}.git"
    meta = tmp_path / "plain" / "meta"
    meta.mkdir()
    manifest = {"projects": projects, "metarepo": {"defaults": {"branch": "master"},
                                                   "environments": {"staging": {"target": "swarm"}}}}
    if extra:
        manifest["metarepo"]["defaults"].update(extra)
    (meta / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
    (meta / ".gitignore").write_text("".join(f"{k}\n" for k in projects) + ".metarepo/\n")
    publish(meta, remotes / "meta.git")
    root = tmp_path / "plain" / "ws"
    proc = run_meta("clone", f"file://{remotes}/meta.git", str(root))
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def plain_fleet(tmp_path: Path) -> Path:
    return make_plain_fleet(tmp_path)


def remotes_of(root: Path) -> dict[str, Path]:
    data = json.loads((root / ".meta").read_text())
    return {name: Path(url[len("file://"):]) for name, url in data["projects"].items()}
