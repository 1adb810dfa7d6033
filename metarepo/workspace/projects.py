"""Editing the manifest: init, add, remove, import; ``.gitignore`` kept in step.

Like npm meta, every project folder is listed in the meta repo's
``.gitignore`` so the meta repo never commits its projects' files.
"""

from __future__ import annotations

from pathlib import Path

from metarepo import git
from metarepo.errors import UsageError
from metarepo.manifest import (MANIFEST_NAME, Manifest, check_folder, dump_manifest, new_manifest,
                               normalize_folder, save_manifest, with_project, without_project,
                               write_atomic)
from metarepo.urls import unsafe_reason, redact


def init_manifest(root: Path) -> Path:
    """Write an empty ``.meta`` in ``root``; refuse to overwrite one."""
    file = Path(root) / MANIFEST_NAME
    if file.exists():
        raise UsageError(f"{file} already exists")
    write_atomic(file, dump_manifest(new_manifest()))
    return file


def add_project(manifest: Manifest, name: str, url: str) -> Manifest:
    check_folder(name, str(manifest.file))
    reason = unsafe_reason(url)
    if reason:
        raise UsageError(f"URL {redact(url)!r} {reason}")
    updated = save_manifest(manifest.root, with_project(manifest.data, name, url))
    ignore_folders(manifest.root, add=[name])
    return updated


def remove_project(manifest: Manifest, name: str) -> Manifest:
    data, removed = without_project(manifest.data, name)
    updated = save_manifest(manifest.root, data)
    ignore_folders(manifest.root, remove=[removed])
    return updated


def import_project(manifest: Manifest, name: str, url: str | None = None) -> Manifest:
    """Add an existing clone at ``name``; its URL read from its ``origin`` when not given."""
    check_folder(name, str(manifest.file))
    folder = manifest.root / normalize_folder(name)
    if not folder.is_dir():
        raise UsageError(f"{folder} does not exist", hint="use `meta project add` for a new clone")
    if not git.is_work_tree(folder):
        raise UsageError(f"{folder} is not a git repository")
    origin = git.remote_url(folder)
    if url is None:
        if not origin:
            raise UsageError(f"{folder} has no 'origin' remote", hint="pass the URL: meta project import PATH URL")
        url = origin
    return add_project(manifest, name, url)


def _ignore_line(name: str) -> str:
    return normalize_folder(name)


def ignore_folders(root: Path, *, add: list[str] = (), remove: list[str] = ()) -> None:  # type: ignore[assignment]
    """Add or remove project folders in ``root/.gitignore``; other lines untouched."""
    file = Path(root) / ".gitignore"
    text = file.read_text(encoding="utf-8") if file.exists() else ""
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
    if new_text != text:
        write_atomic(file, new_text)
