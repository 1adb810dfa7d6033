"""``meta status``: one row per project from one git process per project.

Branch, upstream, ahead/behind and dirty counts come from a single
``git status --porcelain=v2 --branch``; the origin URL is read from the
clone's config file; the last commit's time and subject are cached by commit
id (immutable) under ``.metarepo/``, so a repeated status runs ``git log``
only where HEAD moved.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Sequence

from metarepo import git
from metarepo.errors import GitError, MetaError
from metarepo.manifest import Manifest, Project, edit_lock, write_atomic
from metarepo.runner import Failed, Run, run_parallel
from metarepo.urls import redact, same_remote
from metarepo.worktree import CloneState

CACHE_FILE = "commits.json"


@dataclass(frozen=True)
class ProjectStatus:
    project: str
    cloned: bool
    branch: str | None = None
    detached: bool = False
    upstream: str | None = None
    ahead: int = 0
    behind: int = 0
    changed: int = 0
    untracked: int = 0
    conflicted: int = 0
    commit: str | None = None
    commit_time: int | None = None
    subject: str | None = None
    origin: str | None = None
    origin_matches: bool = True
    error: str | None = None

    @property
    def dirty(self) -> int:
        return self.changed + self.untracked + self.conflicted

    def as_json(self) -> dict:
        data = asdict(self)
        data["dirty"] = self.dirty
        return data


def _load_cache(manifest: Manifest) -> dict[str, list]:
    try:
        return json.loads((manifest.state_dir / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _save_cache(manifest: Manifest, cache: dict[str, list], keep: set[str] | None) -> None:
    """Merge ``cache`` into the file, under the edit lock; ``keep``, when known, is every entry still wanted."""
    try:
        with edit_lock(manifest.root, wait=2):
            merged = {**_load_cache(manifest), **cache}
            if keep is not None:
                merged = {k: v for k, v in merged.items() if k in keep}
            write_atomic(manifest.state_dir / CACHE_FILE, json.dumps(merged), durable=False)
    except (OSError, MetaError):
        pass  # a cache that cannot be written (a read-only checkout, a busy lock) only costs time


def project_status(project: Project, cache: dict[str, list], env: dict[str, str] | None = None) -> ProjectStatus:
    """One project's row; ``env`` is ``git.git_env()``, computed once per run."""
    try:
        project.check_inside()
    except MetaError as exc:
        raise Failed(exc.message, ProjectStatus(project.name, cloned=False, error=exc.message)) from None
    state = project.state
    if state in (CloneState.MISSING, CloneState.EMPTY):
        return ProjectStatus(project.name, cloned=False)
    if state is CloneState.PARTIAL:
        return ProjectStatus(project.name, cloned=False,
                             error="clone not finished: no commit checked out (`meta update` clones it again)")
    gd = git.git_dir(project.path)
    if state is CloneState.NOT_GIT or gd is None:
        raise Failed(f"{project.path} is not a git repository",
                     ProjectStatus(project.name, cloned=False, error="not a git repository"))
    try:
        st = git.branch_status(project.path, env=env)
    except GitError as exc:
        raise Failed(exc.message, ProjectStatus(project.name, cloned=True, error=exc.message)) from None
    origin = git.remote_url(project.path, gd=gd, env=env)
    commit_time = subject = None
    if st.oid:
        cached = cache.get(st.oid)
        if cached is None:
            commit_time, subject = git.commit_summary(project.path, st.oid, env=env)
            cache[st.oid] = [commit_time, subject]
        else:
            commit_time, subject = cached
    return ProjectStatus(
        project.name, cloned=True, branch=st.branch, detached=st.branch is None and st.oid is not None,
        upstream=st.upstream, ahead=st.ahead, behind=st.behind, changed=st.changed,
        untracked=st.untracked, conflicted=st.conflicted, commit=st.oid, commit_time=commit_time,
        subject=subject, origin=redact(origin) if origin else None,
        origin_matches=origin is not None and same_remote(origin, project.url))


def collect_status(manifest: Manifest, projects: Sequence[Project], *, jobs: int) -> tuple[Run, list[ProjectStatus]]:
    cache = _load_cache(manifest)
    before = len(cache)
    by_name = {p.name: p for p in projects}
    env = git.git_env()
    run = run_parallel(list(by_name), lambda name: project_status(by_name[name], cache, env), jobs=jobs)
    rows = [o.value if o.value is not None else ProjectStatus(str(o.key), cloned=True, error=o.reason or o.state)
            for o in run.outcomes]
    heads = {r.commit for r in rows if r.commit}
    if len(by_name) == len(manifest.projects):  # every project seen: what is not a head now is stale
        keep: set[str] | None = heads
    else:  # a selection: the others' heads are unknown here, so keep their entries (within a bound)
        limit = 2 * len(manifest.projects) + 16
        keep = None if len(cache) <= limit else heads
    if len(cache) != before or (keep is not None and any(k not in keep for k in cache)):
        _save_cache(manifest, {k: v for k, v in cache.items() if keep is None or k in keep}, keep)
    return run, rows


def age(seconds_since_epoch: int | None, now: float | None = None) -> str:
    """A short human age: ``5m``, ``3h``, ``2d``, ``7w``, ``1y``."""
    if not seconds_since_epoch:
        return ""
    delta = max(0, int((now or time.time()) - seconds_since_epoch))
    for unit, size in (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{delta // size}{unit}"
    return f"{delta}s"
