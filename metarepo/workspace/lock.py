"""``.meta.lock``: each project's commit, so anyone can reproduce a workspace.

The file is committed and shared, so a URL is written without any password or
token in it (only the commit is read back).
"""

from __future__ import annotations

import json
from typing import Sequence

from metarepo import git
from metarepo.errors import GitError, ManifestError, MetaError, NotFoundError, WorkFailed
from metarepo.manifest import LOCK_NAME, MAX_DEPTH, Manifest, Project, edit_lock, write_atomic
from metarepo.runner import Failed, Run, run_parallel
from metarepo.urls import without_credential


def lock_projects(manifest: Manifest, projects: Sequence[Project], *, jobs: int) -> tuple[Run, dict]:
    """Read every project's HEAD; write ``.meta.lock`` only if all could be read."""
    by_name = {p.name: p for p in projects}

    def head(name: str) -> str:
        project = by_name[name]
        try:
            project.check_inside()
        except MetaError as exc:
            raise Failed(exc.message) from None
        if not project.cloned:
            raise Failed(project.state.value)
        try:
            return git.head_commit(project.path)
        except GitError as exc:
            raise Failed(exc.message) from None

    run = run_parallel(list(by_name), head, jobs=jobs)
    lock = {"projects": {o.key: {"url": without_credential(by_name[o.key].url), "commit": o.value}
                         for o in run.outcomes if o.ok}}
    if run.ok:
        file = manifest.root / LOCK_NAME
        try:
            with edit_lock(manifest.root):
                write_atomic(file, json.dumps(lock, indent=2) + "\n")
        except OSError as exc:
            raise WorkFailed(f"{file}: cannot write: {exc.strerror or exc}; the old file is intact") from None
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
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(file)) from None
    except RecursionError:
        raise ManifestError(f"nested more than {MAX_DEPTH} levels deep", file=str(file)) from None
    except ValueError:  # an integer past Python's limit on digits
        raise ManifestError("holds a number too long to read", file=str(file)) from None
    except OSError as exc:
        raise ManifestError(f"cannot read: {exc.strerror or exc}", file=str(file)) from None
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
