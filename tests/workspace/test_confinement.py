"""A symlink never takes meta outside the meta repo: committed in the meta repo, as a project folder, or
made by an earlier clone in the same run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from make_fleet import publish
from tests.conftest import git


def _meta_repo(tmp_path: Path, projects: dict, links: dict[str, str]) -> str:
    """A meta repo listing ``projects`` with the symlinks ``links`` (name -> target) committed in it."""
    src = tmp_path / "metasrc"
    src.mkdir()
    (src / ".meta").write_text(json.dumps({"projects": projects}))
    for name, target in links.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, src / name)
    publish(src, tmp_path / "meta.git")
    return f"file://{tmp_path / 'meta.git'}"


@pytest.mark.parametrize("folder, link, target", [
    ("home/.ssh", "home", "{outside}"),  # a committed link to anywhere
    ("up/evil", "up", ".."),  # ... or to the meta repo's parent
    ("lib", "lib", "{outside}"),  # a project folder that is itself a link
])
def test_clone_refuses_a_project_a_committed_link_leads_outside(tmp_path, fleet, meta, folder, link, target):
    outside = tmp_path / "outside"
    outside.mkdir()
    orders = fleet.replace("meta.git", "orders.git")
    url = _meta_repo(tmp_path, {"services/orders": orders, folder: orders},
                     {link: target.format(outside=outside)})
    proc = meta("clone", url, str(tmp_path / "ws"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert f"projects.{folder}: the folder leads outside the meta repo: {link} is a link to " in lines[0]
    assert target.format(outside=outside) in lines[0]
    assert list(outside.iterdir()) == []  # nothing written where the link points
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "ws/services/orders").exists()  # refused before any project was cloned


@pytest.mark.parametrize("args", [
    ("exec", "pwd"), ("git", "status"), ("status",), ("update",), ("lock",), ("project", "list"),
    ("batch", "run", "--branch", "x", "--message", "m", "--", "touch", "pwned"),
])
def test_every_command_refuses_a_project_folder_replaced_by_a_link(workspace, meta, tmp_path, args):
    outside = tmp_path / "outside"
    outside.mkdir()
    orders = workspace / "services/orders"
    git("init", "-q", str(outside), cwd=tmp_path)
    git("remote", "add", "origin", git("remote", "get-url", "origin", cwd=orders), cwd=outside)
    os.rename(orders, tmp_path / "orders-moved")
    os.symlink(outside, orders)
    before = sorted(p.name for p in outside.iterdir())
    proc = meta(*args, cwd=workspace)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"meta: {workspace / '.meta'}: projects.services/orders: the folder leads outside the meta repo: "
        f"services/orders is a link to {outside}; refused (remove the link, or the project from .meta)"]
    assert sorted(p.name for p in outside.iterdir()) == before
    assert not (workspace / ".meta.lock").exists()


def test_project_add_and_import_refuse_a_folder_under_a_link(workspace, meta, tmp_path):
    outside = tmp_path / "outside"
    (outside / "shared").mkdir(parents=True)
    git("init", "-q", str(outside / "shared"), cwd=tmp_path)
    os.symlink(outside, workspace / "vendor")
    before = (workspace / ".meta").read_text()
    for args in (("project", "add", "vendor/x", "file:///x.git"), ("project", "import", "vendor/shared")):
        proc = meta(*args, cwd=workspace)
        assert proc.returncode == 2, proc.stderr
        assert "vendor is a link to" in proc.stderr and str(outside) in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert (workspace / ".meta").read_text() == before


def test_a_link_an_earlier_clone_made_is_refused_before_the_next_clone_writes(tmp_path, fleet, meta):
    """`lib` is cloned first; its repo holds `vendor -> OUTSIDE`, so `lib/vendor/x` would land outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    lib = tmp_path / "libsrc"
    lib.mkdir()
    (lib / "README").write_text("lib\n")
    os.symlink(outside, lib / "vendor")
    publish(lib, tmp_path / "lib.git")
    orders = fleet.replace("meta.git", "orders.git")
    url = _meta_repo(tmp_path, {"lib": f"file://{tmp_path / 'lib.git'}", "lib/vendor/x": orders}, {})
    proc = meta("clone", url, str(tmp_path / "ws"), "-j", "1")
    assert proc.returncode == 1, proc.stderr
    assert "lib/vendor/x leads outside the meta repo: lib/vendor is a link to" in proc.stderr
    assert (tmp_path / "ws/lib/README").is_file()
    assert list(outside.iterdir()) == []


def test_a_state_folder_linked_outside_is_refused(workspace, meta, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (workspace / ".metarepo").rename(tmp_path / "old-state") if (workspace / ".metarepo").exists() else None
    os.symlink(outside, workspace / ".metarepo")
    proc = meta("project", "add", "x", "file:///x.git", cwd=workspace)
    assert proc.returncode == 2
    assert ".metarepo leads outside the meta repo: .metarepo is a link to" in proc.stderr
    assert list(outside.iterdir()) == []


def test_a_gitignore_linked_outside_is_not_copied_in(tmp_path, meta):
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2\n")
    root = tmp_path / "m"
    root.mkdir()
    assert meta("init", cwd=root).returncode == 0
    os.symlink(secret, root / ".gitignore")
    proc = meta("project", "add", "a", "file:///a.git", cwd=root)
    assert proc.returncode == 2 and ".gitignore is a link to" in proc.stderr
    assert (root / ".gitignore").is_symlink() and "hunter2" not in (root / ".meta").read_text()
