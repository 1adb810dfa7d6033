"""A project's last release tag and the commits since: two ``git`` calls, the hot path of ``plan``.

``git describe --tags --abbrev=0`` finds the nearest tag that looks like a
release (``<prefix>MAJOR.MINOR.PATCH``, no pre-release suffix); ``git log``
lists every commit since it (all of history when there is none yet), with
its full message. Merge commits carry no change of their own and are left
out. GitPython could read the same, but one process per question is what
keeps ``plan`` over hundreds of repositories as fast as ``xargs -P``.
"""

from __future__ import annotations

from dataclasses import dataclass

from metarepo import git
from metarepo.errors import GitError
from metarepo.manifest import Project

from metarepo.release.conventional import Commit, is_release_commit, parse_commit
from metarepo.release.settings import ReleaseSettings
from metarepo.release.version import Version, version_of_tag

_RECORD, _FIELD = "\x1e", "\x00"


@dataclass(frozen=True)
class History:
    head: str  # the sha of HEAD
    tag: str | None  # the last release tag, if any
    version: Version | None  # the version it names
    commits: tuple[Commit, ...]  # newest first, merges and release commits left out


def describe_args(settings: ReleaseSettings) -> list[str]:
    prefix = settings.tag_prefix
    return ["describe", "--tags", "--abbrev=0", "--match", f"{prefix}[0-9]*.[0-9]*.[0-9]*",
            "--exclude", f"{prefix}*-*", "HEAD"]


def log_args(since: str | None) -> list[str]:
    return ["log", "--format=%H%x00%P%x00%B%x1e", *([f"{since}..HEAD"] if since else ["HEAD"]), "--"]


def read_history(project: Project, settings: ReleaseSettings) -> History:
    """What changed in ``project`` since its last release; ``GitError`` when git cannot say."""
    described = git.run_git(describe_args(settings), cwd=project.path, check=False)
    tag = described.stdout.strip() if described.returncode == 0 else None
    if described.returncode != 0 and "No names found" not in described.stderr and \
            "No tags can describe" not in described.stderr and "cannot describe" not in described.stderr:
        raise GitError(f"{project.name}: git describe failed: {git.first_error_line(described.stderr)}")
    version = version_of_tag(tag, settings.tag_prefix) if tag else None
    if tag and version is None:
        raise GitError(f"{project.name}: its last tag {tag!r} is not {settings.tag_prefix}MAJOR.MINOR.PATCH")
    out = git.run_git(log_args(f"refs/tags/{tag}" if tag else None), cwd=project.path).stdout
    head = ""
    commits = []
    for record in out.split(_RECORD):
        record = record.lstrip("\n")
        if not record:
            continue
        sha, parents, message = (record.split(_FIELD, 2) + ["", ""])[:3]
        head = head or sha
        if len(parents.split()) > 1:
            continue
        commit = parse_commit(sha, message)
        if not is_release_commit(commit):
            commits.append(commit)
    if not head:
        head = git.head_commit(project.path)
    return History(head, tag, version, tuple(commits))
