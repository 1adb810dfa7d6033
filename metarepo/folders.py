"""Project folders: which names the manifest may use, and where they lead on disk.

A folder is a plain relative path inside the meta repo: not absolute, no
``..``, no control character, nowhere in a ``.git`` (in any case: a
case-insensitive file system takes ``.GIT`` for ``.git``), not one of the
meta repo's own files. And on disk, no symlink may lead it outside the meta
repo: a link committed in the meta repo (``home -> /somewhere``) or a project
folder that is a link would otherwise send a clone, or a command, anywhere.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from typing import Any

from metarepo.errors import ManifestError, UsageError, printable

_DRIVE = re.compile(r"^[a-zA-Z]:")
# What case-insensitive and Windows or macOS file systems ignore in a name (git refuses the same).
_IGNORED = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")
_OWN_FILES = (".meta", ".meta.lock", ".metarepo", ".gitignore")  # the meta repo's own, at its top


def _as_stored(part: str) -> str:
    """A name as a case-insensitive file system may store it: ``.GIT.`` and ``.git`` are one folder."""
    return _IGNORED.sub("", part).rstrip(". ").lower()


def check_folder(name: Any, filename: str = ".meta") -> None:
    """Refuse a project folder that is not a plain relative path inside the root."""
    if not isinstance(name, str) or not name.strip():
        raise ManifestError("a project folder must be a non-empty string", file=filename, key="projects")
    key = f"projects.{name}"
    if printable(name) != name:
        raise ManifestError("the folder contains a control character", file=filename, key=key)
    if name.startswith("/") or name.startswith("\\") or _DRIVE.match(name):
        raise ManifestError("the folder must be relative to the meta repo, not absolute",
                            file=filename, key=key)
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise ManifestError("the folder may not contain '..'", file=filename, key=key)
    if normalize_folder(name) in (".", ""):
        raise ManifestError("the folder may not be the meta repo itself", file=filename, key=key)
    if any(len(part.encode("utf-8")) > 255 for part in parts):
        raise ManifestError("a folder name may not be longer than 255 bytes", file=filename, key=key)
    if any(part.startswith("-") for part in parts):
        raise ManifestError("a folder name may not start with '-'", file=filename, key=key)
    stored = [_as_stored(part) for part in normalize_folder(name).split("/")]
    if any(part in (".git", "git~1") for part in stored):
        raise ManifestError("the folder may not be, or be inside, a .git directory (in any case)",
                            file=filename, key=key)
    if stored[0] in _OWN_FILES:
        raise ManifestError(f"{stored[0]} is the meta repo's own; a project may not live there",
                            file=filename, key=key)


def normalize_folder(name: str) -> str:
    return posixpath.normpath(name.replace("\\", "/"))


def leads_outside(real_root: str, relative: str, links: dict[str, bool]) -> str | None:
    """Why ``real_root/relative`` leads outside ``real_root`` on disk, or None if it stays inside.

    Only symlinks can take a path with no ``..`` out, so each existing part is
    ``lstat``-ed (shared parents once, through ``links``) and only a link is
    resolved. A part that does not exist ends the walk: nothing below it can.
    """
    current = real_root
    for part in relative.split("/"):
        current = os.path.join(current, part)
        is_link = links.get(current)
        if is_link is None:
            try:
                is_link = stat.S_ISLNK(os.lstat(current).st_mode)
            except OSError:
                links[current] = False
                return None
            links[current] = is_link
        if is_link:
            target = os.path.realpath(current)
            if target != real_root and not target.startswith(real_root.rstrip("/") + "/"):
                try:
                    shown = os.readlink(current)
                except OSError:
                    shown = target
                link = os.path.relpath(current, real_root)
                return f"{printable(link)} is a link to {printable(shown)}"
            current = target
    return None


def check_inside(root: str | os.PathLike[str], name: str) -> None:
    """Refuse the folder ``name`` now if a symlink leads it outside ``root`` (one made since loading, say)."""
    escape = leads_outside(os.path.realpath(root), normalize_folder(name), {})
    if escape:
        raise UsageError(f"{printable(name)} leads outside the meta repo: {escape}; refused")
