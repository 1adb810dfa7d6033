"""``meta clone`` and ``meta update``: get every project onto disk, safely.

A project already on disk is checked (same origin) and left alone. ``update``
only fast-forwards: a dirty or diverged clone is skipped with its reason,
never merged, rebased or stashed. A clone is renamed into place only when it
is whole (see ``git.clone``); a clone an older metarepo left half done (a
``.git`` and nothing else, no commit checked out) is made again.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

from metarepo import git
from metarepo.errors import GitError, MetaError, UsageError
from metarepo.manifest import Manifest, Project, load_manifest
from metarepo.report import NULL, Reporter
from metarepo.runner import Failed, Run, Skip, run_parallel
from metarepo.urls import redact, same_remote, unsafe_reason
from metarepo.worktree import CloneState, clone_state

CLONED, RECLONED, PRESENT, UPDATED, UP_TO_DATE, CHECKED_OUT = (
    "cloned", "cloned again (the last clone had not finished)", "already cloned", "updated", "up to date",
    "checked out")


def default_dir(url: str) -> str:
    """``meta clone URL`` with no DIR: the URL's last name without ``.git``."""
    name = url.rstrip("/").replace(":", "/").rsplit("/", 1)[-1]
    return name[:-4] if name.endswith(".git") else name or "meta"


def clone_meta(url: str, dest: Path, *, depth: int | None = None) -> Manifest:
    """Clone the meta repo (or reuse ``dest`` if it already is that clone); return its manifest."""
    reason = unsafe_reason(url)
    if reason:
        raise UsageError(f"URL {redact(url)!r} {reason}")
    dest = Path(dest)
    state = clone_state(dest)
    if state is CloneState.PARTIAL and _origin_is(dest, url):
        shutil.rmtree(dest)
        state = CloneState.MISSING
    if state in (CloneState.CLONED, CloneState.NOT_GIT, CloneState.PARTIAL):
        if state is not CloneState.CLONED or not _origin_is(dest, url):
            raise UsageError(f"{dest} already exists and is not a clone of {redact(url)}")
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        git.remove_abandoned_clones(dest.parent)
        git.clone(url, dest, depth=depth)
    return load_manifest(dest)


def _origin_is(path: Path, url: str) -> bool:
    origin = git.remote_url(path)
    return origin is not None and same_remote(origin, url)


def check_existing(project: Project) -> None:
    """A project folder already on disk must be a clone of the URL in ``.meta``."""
    if not project.cloned:
        raise Failed(f"{project.path} exists but is not a git repository")
    origin = git.remote_url(project.path)
    if origin is None:
        raise Failed("the clone has no 'origin' remote")
    if not same_remote(origin, project.url):
        raise Failed(f"origin is {redact(origin)} but .meta says {redact(project.url)}")


def _inside(project: Project) -> None:
    try:
        project.check_inside()
    except MetaError as exc:
        raise Failed(exc.message) from None


def _missing(project: Project) -> bool:
    """Whether there is no clone to keep: nothing there, an empty folder, or an interrupted clone."""
    return project.state in (CloneState.MISSING, CloneState.EMPTY, CloneState.PARTIAL)


def clone_project(project: Project, *, depth: int | None = None) -> str:
    _inside(project)
    state = project.state
    if state in (CloneState.CLONED, CloneState.NOT_GIT):
        check_existing(project)
        return PRESENT
    if state is CloneState.PARTIAL:
        check_existing_origin(project)
        shutil.rmtree(project.path)  # only a .git that never got a commit: nobody's work
    project.path.parent.mkdir(parents=True, exist_ok=True)
    try:
        git.clone(project.url, project.path, depth=depth)
    except GitError as exc:
        raise Failed(str(exc)) from None
    if not project.cloned:  # never expected; say so rather than call it done
        raise Failed(f"the clone of {redact(project.url)} did not finish")
    return RECLONED if state is CloneState.PARTIAL else CLONED


def check_existing_origin(project: Project) -> None:
    origin = git.remote_url(project.path)
    if origin is None or not same_remote(origin, project.url):
        raise Failed(f"{project.path} holds an unfinished clone of {redact(origin or 'no origin')}, "
                     f"not of {redact(project.url)}; move it away")


def remove_abandoned(projects: Sequence[Project]) -> None:
    """Remove what killed clones left beside the projects about to be cloned (once per folder)."""
    folders = {project.path.parent for project in projects if _missing(project)}
    for folder in folders:
        git.remove_abandoned_clones(folder)


def clone_projects(projects: Sequence[Project], *, jobs: int, depth: int | None = None,
                   reporter: Reporter = NULL) -> Run:
    by_name = {p.name: p for p in projects}
    remove_abandoned(projects)
    return run_parallel(list(by_name), lambda name: clone_project(by_name[name], depth=depth),
                        jobs=jobs, reporter=reporter)


def update_project(project: Project, *, depth: int | None = None, commit: str | None = None) -> str:
    """Clone if missing; else fast-forward (or check out ``commit``) if that is safe."""
    _inside(project)
    if _missing(project):
        done = clone_project(project, depth=depth)
        if commit:
            _checkout_commit(project, commit)
        return done
    check_existing(project)
    status = git.branch_status(project.path)
    if status.dirty:
        raise Skip(f"{status.dirty} uncommitted change{'s' if status.dirty != 1 else ''}")
    if commit:
        return _checkout_commit(project, commit)
    if status.branch is None:
        raise Skip("HEAD is detached (not on a branch)")
    if status.upstream is None:
        raise Skip(f"branch {status.branch} has no upstream")
    try:
        git.run_remote(["fetch", "origin"], project.url, cwd=project.path)
    except GitError as exc:
        raise Failed(str(exc)) from None
    status = git.branch_status(project.path)
    if status.behind == 0:
        return UP_TO_DATE
    if status.ahead:
        raise Skip(f"diverged from {status.upstream} ({status.ahead} ahead, {status.behind} behind)")
    try:
        git.run_git(["merge", "--ff-only", "--quiet", "@{upstream}"], cwd=project.path)
    except GitError as exc:
        raise Failed(exc.message) from None
    return UPDATED


def _checkout_commit(project: Project, commit: str) -> str:
    if git.run_git(["cat-file", "-e", f"{commit}^{{commit}}"], cwd=project.path, check=False).returncode:
        try:
            git.run_remote(["fetch", "origin", commit], project.url, cwd=project.path)
        except GitError as exc:
            raise Failed(f"locked commit {commit[:12]} cannot be fetched: {exc}") from None
    if git.head_commit(project.path) == commit:
        return UP_TO_DATE
    try:
        git.run_git(["checkout", "--quiet", "--detach", commit], cwd=project.path)
    except GitError as exc:
        raise Failed(exc.message) from None
    return CHECKED_OUT


def update_projects(projects: Sequence[Project], *, jobs: int, depth: int | None = None,
                    locked: dict[str, str] | None = None, reporter: Reporter = NULL) -> Run:
    by_name = {p.name: p for p in projects}
    if locked is not None:
        missing = [name for name in by_name if name not in locked]
        if missing:
            raise UsageError(f".meta.lock has no commit for {', '.join(missing)}", hint="run `meta lock`")
    remove_abandoned(projects)
    return run_parallel(
        list(by_name),
        lambda name: update_project(by_name[name], depth=depth, commit=(locked or {}).get(name)),
        jobs=jobs, reporter=reporter)
