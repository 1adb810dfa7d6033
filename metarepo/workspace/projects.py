"""Editing the manifest: init, add, remove, import; ``.gitignore`` kept in step.

Like npm meta, every project folder is listed in the meta repo's
``.gitignore`` so the meta repo never commits its projects' files. Each edit
holds the meta repo's edit lock from reading ``.meta`` to writing it, and
writes ``.meta`` and ``.gitignore`` together (both or neither), so two
commands at once never lose an entry and a full disk changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from metarepo import git
from metarepo.errors import UsageError, WorkFailed
from metarepo.folders import check_inside
from metarepo.manifest import (MANIFEST_NAME, Manifest, check_folder, dump_manifest, edit_lock, load_manifest,
                               new_manifest, normalize_folder, save_manifest, with_project, without_project,
                               write_atomic)
from metarepo.urls import has_credential, redact, unsafe_reason
from metarepo.worktree import CloneState, clone_state


def init_manifest(root: Path) -> Path:
    """Write an empty ``.meta`` in ``root``; refuse to overwrite one."""
    file = Path(root) / MANIFEST_NAME
    with edit_lock(root):
        if file.exists():
            raise UsageError(f"{file} already exists")
        try:
            write_atomic(file, dump_manifest(new_manifest()))
        except OSError as exc:
            raise WorkFailed(f"{file}: cannot write: {exc.strerror or exc}") from None
    return file


def add_project(manifest: Manifest, name: str, url: str) -> Manifest:
    check_folder(name, str(manifest.file))
    reason = unsafe_reason(url)
    if reason:
        raise UsageError(f"URL {redact(url)!r} {reason}")
    with edit_lock(manifest.root):
        current = load_manifest(manifest.root)  # read inside the lock: another add may have just written
        return save_manifest(current.root, with_project(current.data, name, url),
                             also=ignore_change(current.root, add=[name]))


def remove_project(manifest: Manifest, name: str) -> Manifest:
    with edit_lock(manifest.root):
        current = load_manifest(manifest.root)
        data, removed = without_project(current.data, name)
        return save_manifest(current.root, data, also=ignore_change(current.root, remove=[removed]))


def import_project(manifest: Manifest, name: str, url: str | None = None) -> Manifest:
    """Add an existing clone at ``name``; its URL read from its ``origin`` when not given."""
    check_folder(name, str(manifest.file))
    check_inside(manifest.root, name)  # before reading anything there
    folder = manifest.root / normalize_folder(name)
    state = clone_state(folder)
    if state is CloneState.MISSING:
        raise UsageError(f"{folder} does not exist", hint="use `meta project add` for a new clone")
    if state not in (CloneState.CLONED, CloneState.PARTIAL):  # a new repo with no commit yet may be imported
        raise UsageError(f"{folder} is not a git repository")
    if url is None:
        origin = git.remote_url(folder)
        if not origin:
            raise UsageError(f"{folder} has no 'origin' remote", hint="pass the URL: meta project import PATH URL")
        if has_credential(origin):  # .meta is committed and shared: a token must not land there
            raise UsageError(f"{folder}'s origin {redact(origin)} carries a credential, which would be written "
                             "into .meta", hint="pass the URL without it: meta project import PATH URL")
        url = origin
    return add_project(manifest, name, url)


def _ignore_line(name: str) -> str:
    return normalize_folder(name)


def ignore_change(root: Path, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> list[tuple[Path, str]]:
    """``root/.gitignore`` with project folders added or removed, other lines untouched.

    As a list of (file, new text) for ``save_manifest(also=...)``: empty when
    nothing changes. Call it inside the edit lock.
    """
    file = Path(root) / ".gitignore"
    check_inside(root, ".gitignore")  # a link to a file elsewhere would copy that file into the meta repo
    try:
        text = file.read_text(encoding="utf-8") if file.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    lines = text.splitlines()
    spellings = lambda n: {_ignore_line(n), "/" + _ignore_line(n), _ignore_line(n) + "/",  # noqa: E731
                           "/" + _ignore_line(n) + "/"}
    drop = set().union(*(spellings(n) for n in remove)) if remove else set()
    kept = [line for line in lines if line.strip() not in drop]
    present = {line.strip() for line in kept}
    for name in add:
        if not spellings(name) & present:
            kept.append(_ignore_line(name))
            present.add(_ignore_line(name))
    new_text = "\n".join(kept) + ("\n" if kept else "")
    return [(file, new_text)] if new_text != text else []


def ignore_folders(root: Path, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
    """Add or remove project folders in ``root/.gitignore`` (under the edit lock)."""
    with edit_lock(root):
        for file, text in ignore_change(root, add=add, remove=remove):
            try:
                write_atomic(file, text)
            except OSError as exc:
                raise WorkFailed(f"{file}: cannot write: {exc.strerror or exc}; the old file is intact") from None
