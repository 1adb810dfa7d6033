"""Where a service's contract files are read from: its work tree, or git at a ref.

A source reads a file by its path relative to the repository root and names
it for error messages; a path that would leave the repository is refused.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from metarepo.errors import ManifestError, NotFoundError, UsageError


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

    @property
    def version(self) -> str:
        return "working tree"

    def label(self, relpath: str) -> str:
        return f"{self.name}/{relpath}"

    def read(self, relpath: str) -> str | None:
        file = self.root / relpath
        try:
            return file.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except UnicodeDecodeError as exc:
            raise ManifestError(f"not UTF-8 text ({exc.reason})", file=self.label(relpath)) from None


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

    def label(self, relpath: str) -> str:
        return f"{self.name}@{self.ref}:{relpath}"

    def read(self, relpath: str) -> str | None:
        from metarepo.git import run_git

        proc = run_git(["cat-file", "blob", f"{self._cache['commit']}:{relpath}"], cwd=self.root, check=False)
        return proc.stdout if proc.returncode == 0 else None
