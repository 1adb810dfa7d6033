"""Conventional Commits 1.0.0: a commit's type, scope, breaking flag and description.

The grammar (https://www.conventionalcommits.org/en/v1.0.0/): a header
``type(scope)!: description``; a body; footers ``Token: value`` or ``Token
#value``, where ``BREAKING CHANGE`` (or ``BREAKING-CHANGE``) marks a
breaking change like the ``!``. Types are case-insensitive. It is small
enough to parse here: the libraries that do it (commitizen,
python-semantic-release) bring a whole release tool along.

What a type means for the version: a breaking change is major, ``feat``
minor, ``fix`` and ``perf`` patch; every other type (``docs``, ``chore``,
``refactor``...) releases nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from metarepo.release.version import Bump

_HEADER = re.compile(r"^(?P<type>[A-Za-z][A-Za-z0-9-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?: (?P<text>\S.*)$")
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE: ?(?P<text>.*)$", re.MULTILINE)

# Changelog sections, in the order they are shown; types not named here have none.
SECTIONS: tuple[tuple[str, str], ...] = (("breaking", "Breaking changes"), ("feat", "Features"),
                                         ("fix", "Bug fixes"), ("perf", "Performance"))
_BUMPS = {"feat": Bump.MINOR, "fix": Bump.PATCH, "perf": Bump.PATCH}


@dataclass(frozen=True)
class Commit:
    """One commit since the last release, as its message reads."""

    sha: str
    subject: str
    type: str | None  # lower-cased; None when the message is not a Conventional Commit
    scope: str | None = None
    breaking: bool = False
    description: str = ""
    breaking_note: str = ""  # the BREAKING CHANGE footer's text, if any

    @property
    def parsed(self) -> bool:
        return self.type is not None

    @property
    def bump(self) -> Bump:
        if self.breaking:
            return Bump.MAJOR
        return _BUMPS.get(self.type or "", Bump.NONE)

    @property
    def section(self) -> str | None:
        """Which changelog section lists it (None: not shown)."""
        if self.breaking:
            return "breaking"
        return self.type if self.type in _BUMPS else None

    @property
    def line(self) -> str:
        """Its changelog line: ``**scope:** description (abc1234)``."""
        scope = f"**{self.scope}:** " if self.scope else ""
        text = self.description or self.subject
        if self.breaking and self.breaking_note:
            text = f"{text}: {self.breaking_note}"
        return f"{scope}{text} ({self.sha[:7]})"


def parse_commit(sha: str, message: str) -> Commit:
    """``message`` (subject and body) as a ``Commit``; one that does not parse has ``type`` None."""
    subject, _, body = message.strip("\n").partition("\n")
    subject = subject.strip()
    match = _HEADER.match(subject)
    if not match:
        return Commit(sha, subject, None, description=subject)
    footer = _BREAKING_FOOTER.search(body)
    note = " ".join(footer.group("text").split()) if footer else ""
    scope = (match.group("scope") or "").strip() or None
    return Commit(sha, subject, match.group("type").lower(), scope, bool(match.group("bang") or footer),
                  match.group("text").strip(), note)


def is_release_commit(commit: Commit) -> bool:
    """A commit ``meta release apply`` made (``chore(release): 1.4.2``): never a change of its own."""
    return commit.type == "chore" and commit.scope == "release"
