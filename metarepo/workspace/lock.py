"""``.meta.lock``: each project's commit, so anyone can reproduce a workspace."""

from __future__ import annotations

import json
from typing import Sequence

from metarepo import git
from metarepo.errors import GitError, ManifestError, NotFoundError
from metarepo.manifest import LOCK_NAME, Manifest, Project, write_atomic
from metarepo.runner import Failed, Run, run_parallel


def lock_projects(manifest: Manifest, projects: Sequence[Project], *, jobs: int) -> tuple[Run, dict]:
    """Read every project's HEAD; write ``.meta.lock`` only if all could be read."""
    by_name = {p.name: p for p in projects}

    def head(name: str) -> str:
        project = by_name[name]
        if not git.is_work_tree(project.path):
            raise Failed("not cloned")
        try:
            return git.head_commit(project.path)
        except GitError as exc:
            raise Failed(exc.message) from None

    run = run_parallel(list(by_name), head, jobs=jobs)
    lock = {"projects": {o.key: {"url": by_name[o.key].url, "commit": o.value} for o in run.outcomes if o.ok}}
    if run.ok:
        write_atomic(manifest.root / LOCK_NAME, json.dumps(lock, indent=2) + "\n")
    return run, lock


def read_lock(manifest: Manifest) -> dict[str, str]:
    """Project name to locked commit."""
    file = manifest.root / LOCK_NAME
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"{file}: no such file", hint="run `meta lock` first") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"invalid JSON: {exc.msg}", file=str(file), line=exc.lineno,
                            column=exc.colno) from None
    projects = data.get("projects") if isinstance(data, dict) else None
    if not isinstance(projects, dict):
        raise ManifestError("'projects' must be an object", file=str(file), key="projects")
    result = {}
    for name, entry in projects.items():
        commit = entry.get("commit") if isinstance(entry, dict) else None
        if not isinstance(commit, str) or len(commit) < 7 or any(c not in "0123456789abcdef" for c in commit):
            raise ManifestError("needs a 'commit' hex string", file=str(file), key=f"projects.{name}")
        result[name] = commit
    return result
