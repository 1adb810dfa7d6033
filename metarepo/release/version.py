"""Semantic versions as release tags carry them (``v1.4.2``), and how a bump moves them.

Only ``MAJOR.MINOR.PATCH`` is a release version here: a pre-release or
build suffix (``1.4.2-rc.1``) is not a train's, so such tags are never taken
as a project's last release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

_VERSION = re.compile(r"^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$")


class Bump(IntEnum):
    """How far a set of commits moves the version; ordered, so ``max`` of several is their bump."""

    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @property
    def word(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def bumped(self, bump: Bump) -> "Version":
        """The next version. While 0.x a breaking change is a minor bump (semver's 0.y.z: anything may change)."""
        if bump is Bump.MAJOR and self.major == 0:
            bump = Bump.MINOR
        if bump is Bump.MAJOR:
            return Version(self.major + 1, 0, 0)
        if bump is Bump.MINOR:
            return Version(self.major, self.minor + 1, 0)
        if bump is Bump.PATCH:
            return Version(self.major, self.minor, self.patch + 1)
        return self


ZERO = Version(0, 0, 0)


def parse_version(text: str) -> Version | None:
    """``1.4.2`` as a ``Version``; None for anything else (a pre-release, a leading zero, a word)."""
    match = _VERSION.match(text.strip())
    if not match:
        return None
    return Version(*(int(part) for part in match.groups()))


def version_of_tag(tag: str, prefix: str) -> Version | None:
    """The version a release tag names (``v1.4.2`` with prefix ``v``), or None if it is not one."""
    if not tag.startswith(prefix):
        return None
    return parse_version(tag[len(prefix):])
