"""The pre-flight over a whole train, before anything is written or pushed anywhere.

Every repository must be cloned, on its default branch, clean, at exactly
what its remote's default branch holds, with the release tag free here and
on the remote, and the remote must answer a dry-run push (reachable, and
willing to take one). Every problem of every repository is collected, so
one run names them all; nothing has changed when this refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from metarepo import git
from metarepo.errors import GitError, UsageError, WorkFailed
from metarepo.manifest import Manifest, Project
from metarepo.runner import Failed, run_parallel

from metarepo.release.plan import ProjectRelease


@dataclass(frozen=True)
class Ready:
    """A repository that passed the pre-flight: what it releases, on which branch, from which commit."""

    project: Project
    release: ProjectRelease
    branch: str
    before: str  # HEAD, which is also origin's branch


class _Remote(Failed):
    """The remote could not be reached or refused us: failed work (exit 1), not bad input."""


def remote_git(args: list[str], path: object, url: str) -> object:
    """A git call that talks to the remote: ended when a network remote falls silent."""
    if git.is_network(url):
        return git.run_git([args[0], "--progress", *args[1:]], cwd=path, check=False, idle=git.idle_timeout())
    return git.run_git(args, cwd=path, check=False)


def default_branch(project: Project) -> str:
    branch = project.setting("branch") or git.default_branch(project.path)
    if not branch:
        raise Failed("no default branch: origin/HEAD is not set and .meta names no 'branch' for it")
    return str(branch)


def remote_refs(project: Project, refs: Sequence[str]) -> dict[str, str]:
    """``git ls-remote origin REFS``: ref to sha, as the remote has them now."""
    url = git.remote_url(project.path) or ""
    if not url:
        raise _Remote("has no remote 'origin'")
    try:
        proc = git.run_git(["ls-remote", "origin", *refs], cwd=project.path, check=False)
    except GitError as exc:
        raise _Remote(f"origin cannot be reached: {exc.message}") from None
    if proc.returncode != 0:
        raise _Remote(f"origin cannot be reached: {git.first_error_line(proc.stderr)}")
    found = {}
    for line in proc.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        found[ref.strip()] = sha.strip()
    return found


def check_repository(project: Project, release: ProjectRelease) -> Ready:
    if not project.cloned:
        raise Failed("not cloned (run `meta update`)")
    project.check_inside()
    branch = default_branch(project)
    status = git.branch_status(project.path, untracked=True)  # the train writes and adds files: none may be in the way
    problems = []
    if status.branch != branch:
        problems.append(f"is on {status.branch or 'a detached HEAD'}, not its default branch {branch}")
    if status.dirty:
        problems.append(f"has uncommitted changes ({status.dirty} file(s)): commit or stash them")
    if status.oid != release.head:
        problems.append(f"HEAD moved since the plan was made ({(status.oid or '')[:12]})")
    tag = release.tag
    local = git.run_git(["rev-parse", "--verify", "--quiet", f"refs/tags/{tag}"], cwd=project.path, check=False)
    if local.returncode == 0:
        problems.append(f"tag {tag} already exists here")
    if problems:
        raise Failed("; ".join(problems))
    refs = remote_refs(project, [f"refs/heads/{branch}", f"refs/tags/{tag}"])
    if f"refs/tags/{tag}" in refs:
        raise Failed(f"tag {tag} already exists on origin (fetch it: the version is taken)")
    theirs = refs.get(f"refs/heads/{branch}")
    if theirs is None:
        raise Failed(f"origin has no branch {branch}")
    if theirs != status.oid:
        known = git.run_git(["merge-base", "--is-ancestor", theirs, "HEAD"], cwd=project.path, check=False)
        if known.returncode == 0:
            raise Failed(f"has commits that origin's {branch} does not (origin is at {theirs[:12]}): push them "
                         "first, a train releases what origin has")
        raise Failed(f"is behind origin's {branch} (origin is at {theirs[:12]}): pull first")
    url = git.remote_url(project.path) or ""
    probe = remote_git(["push", "--dry-run", "--porcelain", "origin", f"HEAD:refs/heads/{branch}",
                        f"HEAD:refs/tags/{tag}"], project.path, url)
    if probe.returncode != 0:  # type: ignore[attr-defined]
        raise _Remote(f"origin refuses a push (dry run): {git.first_error_line(probe.stderr)}")  # type: ignore
    return Ready(project, release, branch, status.oid or "")


def preflight(manifest: Manifest, releases: Sequence[ProjectRelease], *, jobs: int = 4) -> list[Ready]:
    """Check every repository of the train; raise naming every problem (nothing changed), else all ``Ready``."""
    by_name = {r.project: r for r in releases}
    run = run_parallel(list(by_name), lambda name: check_repository(manifest.project(name), by_name[name]),
                       jobs=jobs)
    if run.interrupted:
        raise KeyboardInterrupt
    bad = [o for o in run.outcomes if not o.ok]
    if bad:
        shown = "; ".join(f"{o.key} {o.reason}" for o in bad[:5])
        more = f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""
        message = f"pre-flight refused the train, nothing was changed: {shown}{more}"
        remote = any(isinstance(o.error, _Remote) for o in bad)
        raise (WorkFailed(message) if remote else UsageError(message))
    return [o.value for o in run.outcomes]
