"""The remote's default branch and branches as a clone knows them, read from its files (no git process).

``refs/remotes/origin/HEAD`` is the symbolic ref ``git clone`` writes for the
remote's default branch; a branch is known to the remote when its
remote-tracking ref is a loose file or a line of ``packed-refs``. A clone
that keeps its refs elsewhere (the reftable format) answers "unknown", and
the scorecard then only asks that a branch is declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from metarepo.worktree import git_dir


@dataclass(frozen=True)
class RemoteRefs:
    known: bool  # whether the refs could be read at all
    default: str | None = None  # origin/HEAD's branch
    branches: frozenset[str] = frozenset()


UNKNOWN = RemoteRefs(False)


def remote_refs(path: Path, remote: str = "origin") -> RemoteRefs:
    gd = git_dir(path)
    if gd is None:
        return UNKNOWN
    common = gd
    try:
        shared = (gd / "commondir").read_text().strip()
        common = (gd / shared).resolve()
    except OSError:
        pass
    prefix = f"refs/remotes/{remote}/"
    branches: set[str] = set()
    loose = common / "refs" / "remotes" / remote
    if not (common / "refs").is_dir():
        return UNKNOWN
    try:
        for file in loose.rglob("*"):
            if file.is_file() and file.name != "HEAD":
                branches.add(file.relative_to(loose).as_posix())
    except OSError:
        pass
    try:
        for line in (common / "packed-refs").read_text(errors="replace").splitlines():
            sha, _, ref = line.partition(" ")
            if ref.startswith(prefix) and not line.startswith(("#", "^")):
                branches.add(ref[len(prefix):])
    except OSError:
        pass
    default = None
    try:
        head = (loose / "HEAD").read_text(errors="replace").strip()
        if head.startswith(f"ref: {prefix}"):
            default = head[len(f"ref: {prefix}"):]
    except OSError:
        pass
    branches.discard("HEAD")
    return RemoteRefs(True, default, frozenset(branches))
