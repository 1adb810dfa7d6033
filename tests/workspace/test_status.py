"""meta status: branch, dirty, ahead/behind, last commit, not cloned, origin drift."""

from __future__ import annotations

import json
import shutil

from tests.conftest import git


def test_status_json_reports_every_column(workspace, meta):
    orders = workspace / "services/orders"
    (orders / "new.txt").write_text("x")
    (orders / "app.sh").write_text("changed\n")
    billing = workspace / "services/billing"
    (billing / "f.txt").write_text("f")
    git("add", "-A", cwd=billing)
    git("commit", "-qm", "local only", cwd=billing)
    git("checkout", "-qb", "feature", cwd=workspace / "services/shipping")
    shutil.rmtree(workspace / "services/gateway")
    git("remote", "set-url", "origin", "https://tok3n@example.invalid/x.git", cwd=workspace / "services/notifications")

    proc = meta("status", "--json", cwd=workspace)
    rows = {r["project"]: r for r in json.loads(proc.stdout)["projects"]}
    assert rows["services/orders"]["dirty"] == 2 and rows["services/orders"]["untracked"] == 1
    assert rows["services/orders"]["subject"] == "orders: first version"
    assert rows["services/billing"]["ahead"] == 1 and rows["services/billing"]["behind"] == 0
    assert rows["services/billing"]["subject"] == "local only"
    assert rows["services/shipping"]["branch"] == "feature" and rows["services/shipping"]["upstream"] is None
    assert rows["services/gateway"]["cloned"] is False
    assert rows["services/notifications"]["origin_matches"] is False
    assert "tok3n" not in proc.stdout


def test_status_table(workspace, meta):
    (workspace / "services/orders/new.txt").write_text("x")
    shutil.rmtree(workspace / "services/gateway")
    proc = meta("status", cwd=workspace)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["PROJECT", "BRANCH", "DIRTY", "AHEAD/BEHIND", "LAST", "COMMIT", "NOTE"]
    orders = next(line for line in lines if line.startswith("services/orders"))
    assert "master" in orders and " 1 " in orders and "orders: first version" in orders
    assert "not cloned" in next(line for line in lines if line.startswith("services/gateway"))
    assert "5 projects, 1 dirty, 1 not cloned" in proc.stderr


def test_status_caches_commit_subjects_by_sha(workspace, meta):
    meta("status", cwd=workspace)
    cache = json.loads((workspace / ".metarepo/commits.json").read_text())
    head = git("rev-parse", "HEAD", cwd=workspace / "services/orders")
    assert cache[head][1] == "orders: first version"
    # a new commit is picked up (the cache is keyed by commit id, never stale)
    repo = workspace / "services/orders"
    (repo / "n.txt").write_text("n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "second", cwd=repo)
    rows = {r["project"]: r for r in json.loads(meta("status", "--json", cwd=workspace).stdout)["projects"]}
    assert rows["services/orders"]["subject"] == "second"
    assert git("check-ignore", ".metarepo/commits.json", cwd=workspace)


def test_a_status_of_some_projects_keeps_the_others_cached(workspace, meta):
    meta("status", cwd=workspace)
    file = workspace / ".metarepo/commits.json"
    cache = json.loads(file.read_text())
    billing = git("rev-parse", "HEAD", cwd=workspace / "services/billing")
    assert billing in cache
    cache.update({f"{n:040x}": [0, "an older commit"] for n in range(20)})  # heads from before
    file.write_text(json.dumps(cache))
    assert meta("status", "--include-only", "orders", cwd=workspace).returncode == 0
    assert billing in json.loads(file.read_text())  # not evicted by a status of orders alone
    assert meta("status", cwd=workspace).returncode == 0  # a full status drops what no project points at
    assert set(json.loads(file.read_text())) == {r["commit"] for r in json.loads(
        meta("status", "--json", cwd=workspace).stdout)["projects"] if r["commit"]}


def test_status_of_a_manifest_with_no_projects_says_so(tmp_path, meta):
    assert meta("init", cwd=tmp_path).returncode == 0
    proc = meta("status", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == ""
    assert "no projects in" in proc.stderr and "meta project add" in proc.stderr
