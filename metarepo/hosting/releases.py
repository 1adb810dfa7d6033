"""GitHub Releases: one per repository of a release train, its notes the changelog section."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from metarepo.hosting.client import with_backoff


@dataclass(frozen=True)
class ReleaseInfo:
    repo: str  # owner/name
    tag: str
    url: str
    id: int

    def as_json(self) -> dict:
        return asdict(self)


def create_release(client: Any, slug: str, *, tag: str, name: str, notes: str) -> ReleaseInfo:
    """``POST /repos/{slug}/releases`` for an existing ``tag``; an API error is a ``HostingError``."""
    repo = client.get_repo(slug)
    release = with_backoff(lambda: repo.create_git_release(tag, name=name, message=notes),
                           what=f"{slug}: creating the GitHub Release {tag}")
    return ReleaseInfo(slug, tag, release.html_url, release.id)
