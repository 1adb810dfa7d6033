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


def _set_url(workspace: Path, name: str, url: str) -> None:
    data = json.loads((workspace / ".meta").read_text())
    data["projects"][name] = url
    (workspace / ".meta").write_text(json.dumps(data, indent=2) + "\n")


def test_update_from_a_silent_remote_fails_fast_with_the_hint(workspace, meta):
    import time

    from tests.remotes import silent_remote

    with silent_remote() as url:
        for name, address in (("services/orders", url), ("services/billing", url.replace("git://", "https://"))):
            git("remote", "set-url", "origin", address, cwd=workspace / name)
            _set_url(workspace, name, address)
        started = time.monotonic()
        proc = meta("update", cwd=workspace, env={"META_GIT_IDLE_TIMEOUT": "2"}, timeout=120)
    assert time.monotonic() - started < 30
    assert proc.returncode == 1
    for name in ("services/orders", "services/billing"):
        line = next(line for line in proc.stderr.splitlines() if name in line)
        assert "no answer from the remote for 2s" in line and "META_GIT_TIMEOUT" in line, proc.stderr


def test_lock_never_writes_a_credential(workspace, meta):
    secret = "https://deploy:s3cret@git.example.invalid/acme/orders.git"
    _set_url(workspace, "services/orders", secret)
    _set_url(workspace, "services/billing", "https://ghp_t0ken@git.example.invalid/acme/billing.git")
    assert meta("lock", cwd=workspace).returncode == 0
    text = (workspace / ".meta.lock").read_text()
    assert "s3cret" not in text and "ghp_t0ken" not in text
    urls = {k: v["url"] for k, v in json.loads(text)["projects"].items()}
    assert urls["services/orders"] == "https://git.example.invalid/acme/orders.git"
    assert urls["services/billing"] == "https://git.example.invalid/acme/billing.git"
    for args in (("status", "--json"), ("project", "list", "--json"), ("update", "--json"), ("status",)):
        proc = meta(*args, cwd=workspace)
        assert "s3cret" not in proc.stdout + proc.stderr and "ghp_t0ken" not in proc.stdout + proc.stderr


def test_a_malformed_lock_file_is_one_line(workspace, meta):
    for text, what in (("[" * 100000, "nested more than"), ('{"projects": {"a": ' + "1" * 5000 + "}}", "number"),
                       ('{"projects": {"a\\nb": 5}}', "projects.a\\nb: needs a 'commit'")):
        (workspace / ".meta.lock").write_text(text)
        proc = meta("update", "--locked", cwd=workspace)
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and what in proc.stderr, proc.stderr
