"""Each project's ``release`` settings: ``tag_prefix``, ``version_files``, ``unparsed``.

They live under ``metarepo.defaults.release`` and
``metarepo.projects.NAME.release`` in ``.meta``; a project's own keys win
key by key over the defaults'. Bad values are refused with their key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping

from metarepo.errors import ManifestError
from metarepo.manifest import Manifest, Project

VERSION_FILES = ("VERSION", "pyproject.toml", "package.json", "Cargo.toml")
# A prefix a git tag name and a describe glob can both hold: no glob or ref-name specials.
_PREFIX = re.compile(r"^[A-Za-z0-9._/-]{0,32}$")


class Unparsed(str, Enum):
    """What a commit that is not a Conventional Commit does to the version."""

    PATCH = "patch"  # it is a change: at least a patch release
    SKIP = "skip"  # it does not count


@dataclass(frozen=True)
class ReleaseSettings:
    tag_prefix: str = "v"
    version_files: tuple[str, ...] = ()
    unparsed: Unparsed = Unparsed.PATCH

    def tag(self, version: object) -> str:
        return f"{self.tag_prefix}{version}"


def release_settings(manifest: Manifest, project: Project) -> ReleaseSettings:
    """``project``'s release settings, its own over the defaults'."""
    defaults = manifest.defaults.get("release", {})
    own_all = (manifest.settings.get("projects") or {}).get(project.name) or {}
    own = own_all.get("release", {}) if isinstance(own_all, Mapping) else {}
    for raw, where in ((defaults, "metarepo.defaults.release"), (own, f"metarepo.projects.{project.name}.release")):
        if not isinstance(raw, Mapping):
            raise ManifestError("must be an object (tag_prefix, version_files, unparsed)", file=".meta", key=where)
        unknown = sorted(set(raw) - {"tag_prefix", "version_files", "unparsed", "//"})
        if unknown:
            raise ManifestError(f"unknown key {unknown[0]!r} (tag_prefix, version_files, unparsed)", file=".meta",
                                key=where)
    merged: dict[str, Any] = {**defaults, **own}
    where = f"metarepo.projects.{project.name}.release" if own else "metarepo.defaults.release"
    prefix = merged.get("tag_prefix", "v")
    if not isinstance(prefix, str) or not _PREFIX.match(prefix) or prefix.startswith(("-", "/")) or ".." in prefix:
        raise ManifestError(f"must be a short tag prefix (letters, digits, '.', '_', '-', '/'), not {prefix!r}",
                            file=".meta", key=f"{where}.tag_prefix")
    files = merged.get("version_files", [])
    if files == "none" or files is None:
        files = []
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or any(f not in VERSION_FILES for f in files):
        raise ManifestError(f"must be a list of {', '.join(VERSION_FILES)} (or \"none\"), not {files!r}",
                            file=".meta", key=f"{where}.version_files")
    unparsed = merged.get("unparsed", "patch")
    try:
        how = Unparsed(unparsed)
    except ValueError:
        raise ManifestError(f"must be patch or skip, not {unparsed!r}", file=".meta",
                            key=f"{where}.unparsed") from None
    return ReleaseSettings(prefix, tuple(dict.fromkeys(files)), how)
