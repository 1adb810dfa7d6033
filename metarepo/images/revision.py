"""Which commit of a project an image is built from, and whether it changed since a ref.

An image is tagged with the full git sha of the commit it was built from;
a work tree with changes builds ``<sha>-dirty`` instead, so a tag never
claims a commit it does not hold and a rollout (which deploys ``<sha>``)
never ships unreviewed work. The version is the tag on HEAD (``v1.4.2``
gives ``1.4.2``), else the project's ``version`` setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from metarepo import git
from metarepo.errors import GitError, UsageError
from metarepo.manifest import Project

from metarepo.image_reference import is_tag


@dataclass(frozen=True)
class Revision:
    sha: str
    dirty: bool
    version: str | None

    @property
    def tag(self) -> str:
        return f"{self.sha}-dirty" if self.dirty else self.sha


def read_revision(project: Project) -> Revision:
    """The project's HEAD, whether its work tree has changes, and its version."""
    status = git.branch_status(project.path)
    if status.oid is None:
        raise GitError(f"{project.name} has no commit yet")
    version = None
    proc = git.run_git(["describe", "--tags", "--exact-match", "HEAD"], cwd=project.path, check=False)
    if proc.returncode == 0:
        tag = proc.stdout.strip()
        version = tag[1:] if tag[:1] in ("v", "V") and tag[1:2].isdigit() else tag
    if version is None and project.setting("version") is not None:
        version = str(project.setting("version"))
    if version is not None and not is_tag(version):
        version = None  # a git tag that cannot be an image tag is simply not used as one
    return Revision(status.oid, bool(status.changed or status.untracked or status.conflicted), version)


def changed_since(project: Project, ref: str) -> tuple[bool, str]:
    """Whether the work tree differs from ``ref`` in this project (and why, in a few words)."""
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n "):
        raise UsageError(f"invalid git revision {ref!r}")
    known = git.run_git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=project.path, check=False)
    if known.returncode != 0:
        return True, f"{ref} is not known here"
    diff = git.run_git(["diff", "--quiet", known.stdout.strip(), "--"], cwd=project.path, check=False)
    if diff.returncode == 1:
        return True, f"changed since {ref}"
    if diff.returncode != 0:
        raise GitError(f"{project.name}: git diff failed: {git.first_error_line(diff.stderr)}")
    if git.branch_status(project.path).untracked:
        return True, "untracked files"
    return False, f"unchanged since {ref}"
