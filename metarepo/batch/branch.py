"""The git steps of a batch change in one clone: check, branch, commit, go back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from metarepo import git
from metarepo.manifest import Project
from metarepo.runner import Failed, Skip

TRAILER = "Meta-Batch"
CREATED, REUSED = "created", "reused"


@dataclass(frozen=True)
class Prepared:
    """A clone switched to the batch branch."""

    base: str  # the default branch it came from
    how: str  # created or reused
    back_to: str  # what to check out afterwards (a branch name, or a commit when detached)
    detached: bool
    caught_up: str | None = None  # a reused branch behind the default branch: "rebased" or "conflicts"


def base_branch(project: Project) -> str:
    """The project's default branch: the manifest's ``branch``, else the clone's ``origin/HEAD``."""
    base = project.setting("branch") or git.default_branch(project.path)
    if not base:
        raise Failed("no default branch: origin/HEAD is not set and the manifest has no 'branch' "
                     f"(set metarepo.projects.{project.name}.branch, or run `git remote set-head origin --auto`)")
    if not _exists(project.path, f"refs/remotes/origin/{base}"):
        raise Failed(f"no default branch: origin/{base} does not exist (is 'branch' right for this repo?)")
    return base


def ensure_clean(project: Project) -> None:
    if not project.cloned:
        raise Skip("not cloned (run `meta update`)")
    porcelain = git.run_git(["status", "--porcelain"], cwd=project.path).stdout
    if porcelain.strip():
        count = len(porcelain.splitlines())
        raise Skip(f"{count} uncommitted change{'s' if count != 1 else ''}; commit or stash them yourself "
                   "(meta never stashes)")


def prepare(project: Project, branch: str, *, fetch: bool = True) -> Prepared:
    """Check the clone is clean, then switch to ``branch`` (new from the default branch, or ours reused)."""
    path = project.path
    ensure_clean(project)
    if fetch:
        git.run_git(["fetch", "--quiet", "--prune", "origin"], cwd=path)
    base = base_branch(project)
    if branch == base:
        raise Failed(f"--branch {branch} is this repo's default branch; a batch needs its own branch")
    current = git.run_git(["symbolic-ref", "--quiet", "--short", "HEAD"], cwd=path, check=False).stdout.strip()
    detached = not current
    back_to = current or git.head_commit(path)
    if _exists(path, f"refs/heads/{branch}"):
        if not is_ours(path, f"refs/heads/{branch}", branch, base):
            raise Failed(f"branch {branch} already exists here and meta batch did not make it; "
                         "pick another --branch (it was left alone)")
        git.run_git(["checkout", "--quiet", branch], cwd=path)
        how = REUSED
        caught_up = catch_up(path, base)
    elif _exists(path, f"refs/remotes/origin/{branch}"):
        if not is_ours(path, f"refs/remotes/origin/{branch}", branch, base):
            raise Failed(f"branch {branch} already exists on origin and meta batch did not make it; "
                         "pick another --branch (it was left alone)")
        git.run_git(["checkout", "--quiet", "--no-track", "-b", branch, f"refs/remotes/origin/{branch}"], cwd=path)
        _mark(path, branch)
        how = REUSED
        caught_up = catch_up(path, base)
    else:
        git.run_git(["checkout", "--quiet", "--no-track", "-b", branch, f"refs/remotes/origin/{base}"], cwd=path)
        _mark(path, branch)
        how, caught_up = CREATED, None
    return Prepared(base=base, how=how, back_to=back_to, detached=detached, caught_up=caught_up)


REBASED, CONFLICTS = "rebased", "conflicts"


def catch_up(path: Path, base: str) -> str | None:
    """Rebase the checked-out batch branch (every commit ours) onto the latest ``origin/base``.

    A pull request whose base has moved on is what a fleet-wide change leaves
    behind; re-running the batch brings each branch up to date. When the
    rebase conflicts it is aborted and the branch stays exactly as it was.
    None when the branch already contains ``origin/base``.
    """
    upstream = f"refs/remotes/origin/{base}"
    if git.run_git(["merge-base", "--is-ancestor", upstream, "HEAD"], cwd=path, check=False).returncode == 0:
        return None
    proc = git.run_git(["rebase", "--quiet", "--no-verify", "--no-autosquash", upstream], cwd=path, check=False)
    if proc.returncode == 0:
        return REBASED
    git.run_git(["rebase", "--abort"], cwd=path, check=False)
    return CONFLICTS


def rewritten(path: Path, branch: str) -> str | None:
    """``origin/branch``'s commit when the local branch no longer contains it (it was rebased), else None."""
    remote = f"refs/remotes/origin/{branch}"
    if not _exists(path, remote):
        return None
    if git.run_git(["merge-base", "--is-ancestor", remote, f"refs/heads/{branch}"], cwd=path,
                   check=False).returncode == 0:
        return None
    return git.run_git(["rev-parse", remote], cwd=path).stdout.strip()


def is_ours(path: Path, ref: str, branch: str, base: str) -> bool:
    """Whether meta batch made ``ref``: marked in config, or every commit on it has our trailer."""
    if ref.startswith("refs/heads/"):
        marked = git.run_git(["config", "--bool", "--get", f"branch.{branch}.metaBatch"], cwd=path, check=False)
        if marked.stdout.strip() == "true":
            return True
    out = git.run_git(["log", f"--format=%(trailers:key={TRAILER},valueonly,separator=%x2C)%x00",
                       f"refs/remotes/origin/{base}..{ref}"], cwd=path).stdout
    commits = [v.strip() for v in out.split("\0")[:-1]]  # one trailer value per commit
    return bool(commits) and all(c == branch for c in commits)


def commit_all(path: Path, branch: str, message: str) -> str | None:
    """Stage everything and commit with our trailer; None when nothing changed."""
    git.run_git(["add", "--all"], cwd=path)
    if git.run_git(["diff", "--cached", "--quiet"], cwd=path, check=False).returncode == 0:
        return None
    git.run_git(["commit", "--quiet", "--no-verify", "-m", message, "-m", f"{TRAILER}: {branch}"], cwd=path)
    return git.head_commit(path)


def go_back(path: Path, prepared: Prepared) -> None:
    args = ["checkout", "--quiet"] + (["--detach", prepared.back_to] if prepared.detached else [prepared.back_to])
    git.run_git(args, cwd=path)


def drop_branch(path: Path, branch: str) -> None:
    git.run_git(["branch", "--quiet", "-D", branch], cwd=path, check=False)
    git.run_git(["config", "--remove-section", f"branch.{branch}"], cwd=path, check=False)


def commits_ahead(path: Path, branch: str, base: str) -> int:
    out = git.run_git(["rev-list", "--count", f"refs/remotes/origin/{base}..refs/heads/{branch}"], cwd=path,
                      check=False).stdout.strip()
    return int(out or 0)


def _mark(path: Path, branch: str) -> None:
    git.run_git(["config", f"branch.{branch}.metaBatch", "true"], cwd=path)


def _exists(path: Path, ref: str) -> bool:
    return git.run_git(["rev-parse", "--verify", "--quiet", ref], cwd=path, check=False).returncode == 0


def has_branch(path: Path, branch: str) -> bool:
    return _exists(path, f"refs/heads/{branch}")

