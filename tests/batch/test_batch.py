"""`meta batch run/push` and `meta ci generate --branch`: real branches, commits and pushes to bare remotes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import git

SERVICES = ("orders", "billing", "shipping", "notifications", "gateway")


def remotes(workspace: Path) -> Path:
    url = json.loads((workspace / ".meta").read_text())["projects"]["services/orders"]
    return Path(url[len("file://"):]).parent


def branch_of(path: Path) -> str:
    return git("rev-parse", "--abbrev-ref", "HEAD", cwd=path)


def has_ref(path: Path, ref: str) -> bool:
    return subprocess.run(["git", "rev-parse", "--verify", "--quiet", ref], cwd=path,
                          capture_output=True).returncode == 0


def edit(workspace: Path, change) -> None:
    data = json.loads((workspace / ".meta").read_text())
    change(data)
    (workspace / ".meta").write_text(json.dumps(data, indent=2) + "\n")


BUMP = ("batch", "run", "--branch", "bump", "--message", "Bump the version", "--", "sh", "-c", "echo 2 > VERSION")


def test_run_commits_on_a_new_branch_and_push_lands_it_on_the_bare_remotes(meta, workspace: Path) -> None:
    proc = meta(*BUMP, cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    assert "5 ok" in proc.stderr
    for name in SERVICES:
        clone = workspace / "services" / name
        assert branch_of(clone) == "master"  # back where it was
        assert not (clone / "VERSION").exists()
        assert git("status", "--porcelain", cwd=clone) == ""
        assert git("show", "bump:VERSION", cwd=clone) == "2"
        assert git("log", "-1", "--format=%s%n%(trailers:key=Meta-Batch,valueonly)", "bump", cwd=clone) == \
            "Bump the version\nbump"
        assert git("rev-parse", "bump~1", cwd=clone) == git("rev-parse", "origin/master", cwd=clone)
    pushed = meta("batch", "push", cwd=workspace)  # the branch is remembered from the run
    assert pushed.returncode == 0, pushed.stderr
    for name in SERVICES:
        bare = remotes(workspace) / f"{name}.git"
        assert git("--git-dir", str(bare), "rev-parse", "refs/heads/bump", cwd=workspace) == \
            git("rev-parse", "bump", cwd=workspace / "services" / name)
    again = meta(*BUMP, cwd=workspace)
    assert again.returncode == 0
    assert again.stdout.count("no new change; bump already has 1 commit(s)") == 5
    assert "up to date" in meta("batch", "push", "--branch", "bump", cwd=workspace).stdout


def test_nothing_changed_is_skipped_and_the_new_branch_removed(meta, workspace: Path) -> None:
    proc = meta("batch", "run", "-b", "noop", "-m", "Nothing", "--", "true", cwd=workspace)
    assert proc.returncode == 0
    assert proc.stdout.count("skipped, nothing changed") == 5
    for name in SERVICES:
        assert not has_ref(workspace / "services" / name, "refs/heads/noop")


def test_a_dirty_repo_is_skipped_never_stashed(meta, workspace: Path) -> None:
    orders = workspace / "services/orders"
    (orders / "app.sh").write_text("echo work in progress\n")
    proc = meta(*BUMP, cwd=workspace)
    assert proc.returncode == 0
    assert "services/orders: skipped, 1 uncommitted change; commit or stash them yourself (meta never stashes)" \
        in proc.stdout
    assert (orders / "app.sh").read_text() == "echo work in progress\n"
    assert git("stash", "list", cwd=orders) == ""
    assert not has_ref(orders, "refs/heads/bump")
    assert has_ref(workspace / "services/billing", "refs/heads/bump")


def test_a_foreign_branch_of_the_same_name_fails_clearly_and_the_others_go_on(meta, workspace: Path) -> None:
    billing = workspace / "services/billing"
    git("checkout", "-q", "-b", "bump", cwd=billing)
    (billing / "mine.txt").write_text("someone else's work\n")
    git("add", "mine.txt", cwd=billing)
    git("commit", "-q", "-m", "Someone else's work", cwd=billing)
    git("checkout", "-q", "master", cwd=billing)
    theirs = git("rev-parse", "bump", cwd=billing)
    # and on shipping, someone else's branch exists only on origin
    shipping_bare = remotes(workspace) / "shipping.git"
    git("--git-dir", str(shipping_bare), "branch", "bump", "master", cwd=workspace)
    proc = meta(*BUMP, cwd=workspace)
    assert proc.returncode == 1
    assert ("services/billing: branch bump already exists here and meta batch did not make it; "
            "pick another --branch (it was left alone)") in proc.stdout
    assert "services/shipping: branch bump already exists on origin and meta batch did not make it" in proc.stdout
    assert git("rev-parse", "bump", cwd=billing) == theirs
    assert branch_of(billing) == "master"
    assert git("show", "bump:VERSION", cwd=workspace / "services/orders") == "2"


def test_our_branch_on_origin_is_reused(meta, workspace: Path) -> None:
    assert meta(*BUMP, cwd=workspace).returncode == 0
    assert meta("batch", "push", cwd=workspace).returncode == 0
    orders = workspace / "services/orders"
    git("branch", "-D", "bump", cwd=orders)
    proc = meta("batch", "run", "-b", "bump", "-m", "Bump again", "--include-only", "orders", "--",
                "sh", "-c", "echo 3 > VERSION", cwd=workspace)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "existing branch reused" in proc.stdout
    assert git("log", "--format=%s", "origin/master..bump", cwd=orders).splitlines() == ["Bump again",
                                                                                        "Bump the version"]


def advance_master(clone: Path, file: str, text: str) -> str:
    """Somebody lands a commit on the default branch meanwhile; returns the new origin/master."""
    (clone / file).write_text(text)
    git("add", file, cwd=clone)
    git("commit", "-q", "-m", f"Meanwhile: {file}", cwd=clone)
    git("push", "-q", "origin", "master", cwd=clone)
    return git("rev-parse", "HEAD", cwd=clone)


def test_a_reused_branch_behind_master_is_rebased_and_its_push_replaces_the_old_one(meta, workspace: Path) -> None:
    assert meta(*BUMP, "--include-only", "orders", cwd=workspace).returncode == 0
    assert meta("batch", "push", cwd=workspace).returncode == 0
    orders, bare = workspace / "services/orders", remotes(workspace) / "orders.git"
    master = advance_master(orders, "CHANGELOG", "meanwhile\n")
    proc = meta("batch", "run", "-b", "bump", "-m", "Bump again", "--include-only", "orders", "--",
                "sh", "-c", "echo 3 > VERSION", cwd=workspace)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "existing branch reused, from master); rebased onto the latest master" in proc.stdout
    assert git("log", "--format=%s", "origin/master..bump", cwd=orders).splitlines() == ["Bump again",
                                                                                        "Bump the version"]
    assert git("rev-parse", "bump~2", cwd=orders) == master
    assert (branch_of(orders), git("status", "--porcelain", cwd=orders)) == ("master", "")
    pushed = meta("batch", "push", cwd=workspace)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert "pushed, replacing the branch before its rebase" in pushed.stdout
    assert git("--git-dir", str(bare), "rev-parse", "refs/heads/bump", cwd=workspace) == \
        git("rev-parse", "bump", cwd=orders)


def test_a_rebase_that_conflicts_leaves_the_branch_as_it_was(meta, workspace: Path) -> None:
    assert meta(*BUMP, "--include-only", "orders", cwd=workspace).returncode == 0
    orders = workspace / "services/orders"
    before = git("rev-parse", "bump", cwd=orders)
    advance_master(orders, "VERSION", "9\n")  # the same line the batch changed
    proc = meta(*BUMP, "--include-only", "orders", cwd=workspace)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no new change; bump already has 1 commit(s); it is behind master and rebasing conflicts, " \
           "so it was left as it was" in proc.stdout
    assert git("rev-parse", "bump", cwd=orders) == before
    assert (branch_of(orders), git("status", "--porcelain", cwd=orders)) == ("master", "")
    assert not (orders / ".git" / "rebase-merge").exists() and not (orders / ".git" / "rebase-apply").exists()


def test_a_rebased_branch_never_overwrites_a_commit_somebody_else_pushed_to_it(meta, workspace: Path) -> None:
    assert meta(*BUMP, "--include-only", "orders", cwd=workspace).returncode == 0
    assert meta("batch", "push", cwd=workspace).returncode == 0
    orders, bare = workspace / "services/orders", remotes(workspace) / "orders.git"
    helper = workspace.parent / "reviewer"  # a reviewer adds a fix to the pull request's branch
    git("clone", "-q", "--branch", "bump", str(bare), str(helper), cwd=workspace)
    (helper / "FIX").write_text("x\n")
    git("add", "FIX", cwd=helper)
    git("commit", "-q", "-m", "Review fix", cwd=helper)
    git("push", "-q", "origin", "bump", cwd=helper)
    theirs = git("rev-parse", "HEAD", cwd=helper)
    advance_master(orders, "CHANGELOG", "meanwhile\n")
    git("branch", "-D", "bump", cwd=orders)  # reuse from origin: it is not ours any more, so refused
    proc = meta(*BUMP, "--include-only", "orders", cwd=workspace)
    assert proc.returncode == 1 and "already exists on origin and meta batch did not make it" in proc.stdout
    git("checkout", "-q", "-b", "bump", "origin/bump~1", cwd=orders)  # our old local branch, marked ours
    git("config", "branch.bump.metaBatch", "true", cwd=orders)
    git("checkout", "-q", "master", cwd=orders)
    assert meta("batch", "run", "-b", "bump", "-m", "Bump again", "--include-only", "orders", "--",
                "sh", "-c", "echo 3 > VERSION", cwd=workspace).returncode == 0
    pushed = meta("batch", "push", cwd=workspace)
    assert pushed.returncode == 1
    assert "origin's bump has commits meta batch did not make and this branch does not have them; not forced" \
        in pushed.stdout
    assert git("--git-dir", str(bare), "rev-parse", "refs/heads/bump", cwd=workspace) == theirs


def test_a_rejected_push_is_reported_per_repo_and_the_others_go_on(meta, workspace: Path) -> None:
    hook = remotes(workspace) / "billing.git" / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'branch names must start with a ticket number' >&2\nexit 1\n")
    hook.chmod(0o755)
    assert meta(*BUMP, cwd=workspace).returncode == 0
    proc = meta("batch", "push", cwd=workspace)
    assert proc.returncode == 1
    assert "services/billing: push rejected: [remote rejected] (pre-receive hook declined)" in proc.stdout
    assert not has_ref(remotes(workspace) / "billing.git", "refs/heads/bump")
    for name in ("orders", "shipping", "notifications", "gateway"):
        assert has_ref(remotes(workspace) / f"{name}.git", "refs/heads/bump")


def test_push_only_pushes_branches_meta_batch_made(meta, workspace: Path) -> None:
    assert meta(*BUMP[:2], "--exclude", "orders", *BUMP[2:], cwd=workspace).returncode == 0
    orders = workspace / "services/orders"
    git("checkout", "-q", "-b", "bump", cwd=orders)  # somebody's own branch of that name, never pushed
    (orders / "wip.txt").write_text("not for sharing yet\n")
    git("add", "wip.txt", cwd=orders)
    git("commit", "-q", "-m", "Work in progress", cwd=orders)
    git("checkout", "-q", "master", cwd=orders)
    proc = meta("batch", "push", cwd=workspace)
    assert proc.returncode == 1
    assert "services/orders: branch bump here was not made by meta batch; not pushed" in proc.stdout
    assert not has_ref(remotes(workspace) / "orders.git", "refs/heads/bump")
    assert has_ref(remotes(workspace) / "billing.git", "refs/heads/bump")
    (orders / "local.txt").write_text("an unpushed commit on master\n")
    git("add", "local.txt", cwd=orders)
    git("commit", "-q", "-m", "Local only", cwd=orders)
    proc = meta("batch", "push", "--branch", "master", "--include-only", "orders", cwd=workspace)
    assert proc.returncode == 1 and "master is this repo's default branch" in proc.stdout
    assert git("--git-dir", str(remotes(workspace) / "orders.git"), "rev-parse", "master", cwd=workspace) == \
        git("rev-parse", "origin/master", cwd=orders)


def test_a_repo_with_no_default_branch_fails_clearly(meta, workspace: Path) -> None:
    edit(workspace, lambda d: d["metarepo"]["projects"]["services/billing"].update(branch="trunk"))

    def no_default(d):
        d["metarepo"]["defaults"].pop("branch")

    proc = meta(*BUMP, cwd=workspace)
    assert proc.returncode == 1
    assert "services/billing: no default branch: origin/trunk does not exist" in proc.stdout
    edit(workspace, no_default)
    git("remote", "set-head", "origin", "-d", cwd=workspace / "services/shipping")
    proc = meta(*BUMP, "--include-only", "shipping", cwd=workspace)
    assert proc.returncode == 1
    assert "no default branch: origin/HEAD is not set and the manifest has no 'branch'" in proc.stdout


def test_a_failing_command_fails_that_repo_only(meta, workspace: Path) -> None:
    proc = meta("batch", "run", "-b", "half", "-m", "Half", "--", "sh", "-c",
                'echo x > NEW; test "$META_PROJECT" != services/gateway || { echo broken; exit 3; }', cwd=workspace)
    assert proc.returncode == 1
    assert "services/gateway: the command exited 3: broken (left on branch half for a look)" in proc.stdout
    assert proc.stdout.count("committed") == 4


def test_bad_branch_names_are_refused(meta, workspace: Path) -> None:
    proc = meta("batch", "run", "-b", "bad..name", "-m", "x", "--", "true", cwd=workspace)
    assert proc.returncode == 2 and "'bad..name' is not a valid branch name" in proc.stderr
    proc = meta("batch", "run", "-b", "master", "-m", "x", "--", "true", cwd=workspace)
    assert proc.returncode == 1 and proc.stdout.count("is this repo's default branch") == 5


def test_ci_generate_on_a_branch_goes_through_the_batch_path(meta, workspace: Path) -> None:
    proc = meta("ci", "generate", "--provider", "gitlab", "--branch", "ci-gitlab", "--push", cwd=workspace)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in SERVICES:
        clone = workspace / "services" / name
        assert branch_of(clone) == "master" and not (clone / ".gitlab-ci.yml").exists()
        bare = remotes(workspace) / f"{name}.git"
        text = git("--git-dir", str(bare), "show", "ci-gitlab:.gitlab-ci.yml", cwd=workspace)
        assert text.startswith("# Generated by `meta ci generate` from ci-templates/gitlab/gitlab-ci.yml.j2")
        assert git("--git-dir", str(bare), "log", "-1", "--format=%s", "ci-gitlab", cwd=workspace) == \
            "Regenerate the CI pipeline from ci-templates"
    data = json.loads((workspace / ".meta").read_text())
    assert data["metarepo"]["projects"]["services/orders"]["ci"] == "gitlab"
    again = meta("ci", "generate", "--branch", "ci-gitlab", cwd=workspace)
    assert again.returncode == 0 and again.stdout.count("no new change") == 5


def test_ci_generate_pr_without_a_token_touches_nothing(meta, workspace: Path) -> None:
    proc = meta("ci", "generate", "--branch", "ci-fix", "--pr", cwd=workspace, env={"GITHUB_TOKEN": ""})
    assert proc.returncode == 2
    assert "GITHUB_TOKEN is not set" in proc.stderr and "export GITHUB_TOKEN=" in proc.stderr
    for name in SERVICES:
        assert not has_ref(workspace / "services" / name, "refs/heads/ci-fix")
