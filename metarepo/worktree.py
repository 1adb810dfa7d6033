"""What is on disk at a project's folder: nothing, a finished clone, or something else.

Read straight from the files (no git process), because every fleet command
asks it of every project. A clone that was killed part way (by an older
metarepo that cloned in place, or by hand) leaves a ``.git`` with no commit
checked out and nothing else: that is ``PARTIAL``, never taken as cloned
(and, holding no one's work, made again by ``meta update``). A ``git init``
with an origin and nothing else looks the same and is treated the same.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path


class CloneState(enum.Enum):
    MISSING = "not cloned"
    EMPTY = "not cloned (empty folder)"
    PARTIAL = "clone not finished"  # a .git alone, no commit checked out
    NOT_GIT = "not a git repository"
    CLONED = "cloned"


def git_dir(path: Path) -> Path | None:
    """The ``.git`` directory of a work tree at ``path`` (following a gitfile), or None."""
    dot = Path(path) / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():
        try:
            text = dot.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        if text.startswith("gitdir:"):
            target = Path(text[len("gitdir:"):].strip())
            return target if target.is_absolute() else (Path(path) / target).resolve()
    return None


def clone_state(path: Path) -> CloneState:
    """The state of the folder at ``path`` (see ``CloneState``)."""
    path = Path(path)
    try:
        with os.scandir(path) as entries:
            names = [entry.name for _, entry in zip(range(2), entries)]
    except FileNotFoundError:
        return CloneState.MISSING
    except OSError:  # a file, or a folder we may not read
        return CloneState.NOT_GIT
    if not names:
        return CloneState.EMPTY
    gd = git_dir(path)
    if gd is None:
        return CloneState.NOT_GIT
    if names == [".git"] and gd == path / ".git" and not gd.is_symlink() and _never_finished(gd):
        return CloneState.PARTIAL
    return CloneState.CLONED


def _never_finished(gd: Path) -> bool:
    """A ``.git`` (alone in its folder) that no finished clone and no one's work would leave.

    ``git clone`` writes the branch and its upstream (even from an empty
    remote), then the index and the files; a clone killed before that has a
    HEAD that names no commit, no index and no branch section in its config.
    """
    if (gd / "index").exists() or _head_is_born(gd):
        return False
    try:
        config = (gd / "config").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True
    return "[branch " not in config


def _head_is_born(gd: Path) -> bool:
    try:
        head = (gd / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return False
    if not head.startswith("ref:"):
        return bool(head)  # detached at a commit
    ref = head[4:].strip()
    if (gd / "reftable").is_dir():
        return True  # refs in a reftable: assume born rather than read the format
    if (gd / ref).is_file():
        return True
    try:
        packed = (gd / "packed-refs").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.endswith(" " + ref) for line in packed.splitlines())
