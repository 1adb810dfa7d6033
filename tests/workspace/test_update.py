"""meta update: clone what is missing, fast-forward the rest, never merge or stash; --locked."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.conftest import git


def push_commit(remote_url: str, tmp_path: Path, name: str, message: str) -> str:
    work = tmp_path / f"pusher-{name}"
    if not work.exists():
        subprocess.run(["git", "clone", "-q", remote_url, str(work)], check=True)
    (work / f"{message.replace(' ', '_')}.txt").write_text(message)
    git("add", "-A", cwd=work)
    git("commit", "-qm", message, cwd=work)
    git("push", "-q", "origin", "HEAD", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def remote(fleet: str, name: str) -> str:
    return f"file://{Path(fleet[len('file://'):]).parent / name}.git"


def test_update_fast_forwards_and_clones_missing(workspace, fleet, meta, tmp_path):
    new_head = push_commit(remote(fleet, "orders"), tmp_path, "orders", "new feature")
    shutil.rmtree(workspace / "services/gateway")
    proc = meta("update", "--json", cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    results = {p["project"]: p["result"] for p in json.loads(proc.stdout)["projects"]}
    assert results["services/orders"] == "updated"
    assert results["services/gateway"] == "cloned"
    assert results["services/billing"] == "up to date"
    assert git("rev-parse", "HEAD", cwd=workspace / "services/orders") == new_head


def test_dirty_repo_is_skipped_with_its_reason_never_stashed(workspace, fleet, meta, tmp_path):
    push_commit(remote(fleet, "orders"), tmp_path, "orders", "upstream change")
    before = git("rev-parse", "HEAD", cwd=workspace / "services/orders")
    (workspace / "services/orders/app.sh").write_text("# local edit\n")
    proc = meta("update", cwd=workspace)
    assert proc.returncode == 0  # a skip is not a failure
    assert "services/orders: skipped, 1 uncommitted change" in proc.stderr
    assert git("rev-parse", "HEAD", cwd=workspace / "services/orders") == before
    assert (workspace / "services/orders/app.sh").read_text() == "# local edit\n"
    assert git("stash", "list", cwd=workspace / "services/orders") == ""


def test_diverged_repo_is_skipped_never_merged(workspace, fleet, meta, tmp_path):
    push_commit(remote(fleet, "billing"), tmp_path, "billing", "theirs")
    repo = workspace / "services/billing"
    (repo / "mine.txt").write_text("mine")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "mine", cwd=repo)
    mine = git("rev-parse", "HEAD", cwd=repo)
    proc = meta("update", cwd=workspace)
    assert "services/billing: skipped, diverged from origin/master (1 ahead, 1 behind)" in proc.stderr
    assert git("rev-parse", "HEAD", cwd=repo) == mine
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=repo) == "master"


def test_lock_then_update_locked_reproduces_the_workspace(workspace, fleet, meta, tmp_path):
    assert meta("lock", cwd=workspace).returncode == 0
    lock = json.loads((workspace / ".meta.lock").read_text())
    locked = lock["projects"]["services/orders"]["commit"]
    assert locked == git("rev-parse", "HEAD", cwd=workspace / "services/orders")
    # the fleet moves on, and someone else clones it
    push_commit(remote(fleet, "orders"), tmp_path, "orders", "later work")
    other = tmp_path / "other"
    assert meta("clone", fleet, str(other)).returncode == 0
    shutil.copy(workspace / ".meta.lock", other / ".meta.lock")
    proc = meta("update", "--locked", cwd=other)
    assert proc.returncode == 0, proc.stderr
    for name, entry in lock["projects"].items():
        assert git("rev-parse", "HEAD", cwd=other / name) == entry["commit"]


def test_lock_refuses_when_a_project_is_not_cloned(workspace, meta):
    shutil.rmtree(workspace / "services/gateway")
    proc = meta("lock", cwd=workspace)
    assert proc.returncode == 1
    assert "services/gateway: not cloned" in proc.stderr
    assert not (workspace / ".meta.lock").exists()


def test_update_locked_without_a_lock_file(workspace, meta):
    proc = meta("update", "--locked", cwd=workspace)
    assert proc.returncode == 2 and "meta lock" in proc.stderr


def test_a_project_folder_that_is_not_a_git_repo(workspace, meta):
    shutil.rmtree(workspace / "services/gateway/.git")
    proc = meta("update", cwd=workspace)
    assert proc.returncode == 1
    assert "services/gateway" in proc.stderr and "is not a git repository" in proc.stderr
    proc = meta("status", "--json", cwd=workspace)
    rows = {r["project"]: r for r in json.loads(proc.stdout)["projects"]}
    assert rows["services/gateway"]["error"] == "not a git repository"
