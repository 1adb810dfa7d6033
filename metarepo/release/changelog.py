"""``CHANGELOG.md``: one section per version, newest first, its commits grouped by type.

The section is the same text that goes into the tag's message, the train's
record and (with ``--github-release``) the GitHub Release's notes.
"""

from __future__ import annotations

from typing import Sequence

from metarepo.release.conventional import SECTIONS, Commit

TITLE = "# Changelog\n"


def changelog_section(version: str, date: str, commits: Sequence[Commit], *, unparsed_counted: bool,
                      reasons: Sequence[str] = ()) -> str:
    """``## 1.3.0 (2026-12-02)`` and its groups; ``reasons`` are lines that say why the bump is bigger."""
    lines = [f"## {version} ({date})", ""]
    groups: dict[str, list[str]] = {key: [] for key, _ in SECTIONS}
    groups["breaking"].extend(reasons)
    other = []
    for commit in commits:
        if commit.section:
            groups[commit.section].append(commit.line)
        elif not commit.parsed and unparsed_counted:
            other.append(f"{commit.subject} ({commit.sha[:7]})")
    shown = [(title, groups[key]) for key, title in SECTIONS] + [("Other changes", other)]
    for title, entries in shown:
        if entries:
            lines += [f"### {title}", "", *(f"- {entry}" for entry in entries), ""]
    if len(lines) == 2:
        lines += ["No changes of note.", ""]
    return "\n".join(lines)


def with_section(existing: str | None, section: str) -> str:
    """``CHANGELOG.md``'s text with ``section`` on top (under its ``# `` title), made if there was none."""
    section = section.rstrip("\n") + "\n"
    if not existing or not existing.strip():
        return f"{TITLE}\n{section}"
    lines = existing.splitlines(keepends=True)
    if lines and lines[0].startswith("# "):
        head, rest = lines[0], "".join(lines[1:]).lstrip("\n")
        if not head.endswith("\n"):
            head += "\n"
        return f"{head}\n{section}" + (f"\n{rest}" if rest else "")
    return f"{TITLE}\n{section}\n{existing}"
