"""Where a service's contract files are read from: its work tree, or git at a ref.

A source reads a file by its path relative to the repository root and names
it for error messages; a path that would leave the repository is refused,
on disk too: a work tree's file is read only if its real path (symlinks
followed) is inside the repository's, and only a regular file of at most
``bounds.MAX_FILE_BYTES``.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass, field
from pathlib import Path

from metarepo.errors import ManifestError, NotFoundError, UsageError

from metarepo.contracts.bounds import MAX_FILE_BYTES


def clean_path(relpath: str, origin: str) -> str:
    """``relpath`` normalised, refused if it is absolute or leaves the repository."""
    if not relpath or relpath.startswith(("/", "\\")) or "\0" in relpath:
        raise ManifestError(f"{relpath!r} must be a path relative to the repository", file=origin)
    normal = posixpath.normpath(relpath.replace("\\", "/"))
    if normal == ".." or normal.startswith("../"):
        raise ManifestError(f"{relpath!r} points outside the repository", file=origin)
    return normal


@dataclass(frozen=True)
class WorkTree:
    """Files as they are on disk now."""

    root: Path
    name: str  # the project's folder, for messages
    _real_root: str = field(default="", compare=False, repr=False)

    @property
    def version(self) -> str:
        return "working tree"

    def label(self, relpath: str) -> str:
        return f"{self.name}/{relpath}"

    def read(self, relpath: str) -> str | None:
        file = os.path.join(self.root, relpath)
        try:
            info = os.stat(file)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise ManifestError(f"cannot read it ({exc.strerror})", file=self.label(relpath)) from None
        if stat.S_ISDIR(info.st_mode):
            return None
        if not os.path.realpath(file).startswith(self._real_root + os.sep):
            raise ManifestError("resolves to a file outside the repository (a symlink?); refused",
                                file=self.label(relpath))
        return read_bounded(file, self.label(relpath), info)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_real_root", os.path.realpath(self.root))


def read_bounded(file: str | Path, label: str, info: os.stat_result | None = None) -> str:
    """The text of a regular file of at most ``MAX_FILE_BYTES``; a device, a pipe or a bigger file is refused."""
    try:
        info = info or os.stat(file)
        if not stat.S_ISREG(info.st_mode):
            raise ManifestError("not a regular file; refused", file=label)
        if info.st_size > MAX_FILE_BYTES:
            raise ManifestError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; refused", file=label)
        with open(file, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ManifestError(f"cannot read it ({exc.strerror})", file=label) from None
    if len(data) > MAX_FILE_BYTES:
        raise ManifestError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; refused", file=label)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not UTF-8 text ({exc.reason})", file=label) from None


class NoSuchCommit(NotFoundError):
    """The repository has no commit for the ref asked for."""


@dataclass(frozen=True)
class GitTree:
    """Files as they were in commit ``ref`` of the repository at ``root``."""

    root: Path
    name: str
    ref: str
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        from metarepo.git import run_git

        if not self.ref or self.ref.startswith("-") or any(c in self.ref for c in "\0\n :"):
            raise UsageError(f"invalid git ref {self.ref!r}")
        proc = run_git(["rev-parse", "--verify", "--quiet", f"{self.ref}^{{commit}}"], cwd=self.root,
                       check=False)
        if proc.returncode != 0:
            raise NoSuchCommit(f"{self.name}: no commit {self.ref!r} in {self.root}",
                                hint="run `meta update` or `meta git fetch` first")
        self._cache["commit"] = proc.stdout.strip()

    @property
    def version(self) -> str:
        return self.ref

    @property
    def commit(self) -> str:
        return self._cache["commit"]

    def label(self, relpath: str) -> str:
        return f"{self.name}@{self.ref}:{relpath}"

    def read(self, relpath: str) -> str | None:
        from metarepo.git import run_git

        spec = f"{self._cache['commit']}:{relpath}"
        size = run_git(["cat-file", "-s", spec], cwd=self.root, check=False)
        if size.returncode != 0:
            return None
        if not size.stdout.strip().isdigit() or int(size.stdout) > MAX_FILE_BYTES:
            raise ManifestError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; refused", file=self.label(relpath))
        proc = run_git(["cat-file", "blob", spec], cwd=self.root, check=False)
        return proc.stdout if proc.returncode == 0 else None
