"""``meta release apply --github-release``: a GitHub Release per repository once the whole train has landed.

Made through the hosting seam (PyGithub, ``GITHUB_TOKEN``), one request at a
time, after every push succeeded: a train that was put back makes none. A
release GitHub refuses is reported; the train stays released (its tags are
pushed), and the release can be made by hand from the tag.
"""

from __future__ import annotations

from typing import Callable, Sequence

from metarepo.errors import MetaError
from metarepo.manifest import Manifest
from metarepo.urls import redact

from metarepo.release.publish import Local


def release_notes(section: str) -> str:
    """The changelog section without its ``## X.Y.Z (date)`` line: GitHub shows the name above it."""
    lines = section.splitlines()
    return "\n".join(lines[1:]).strip("\n") + "\n" if lines and lines[0].startswith("## ") else section


def github_releases(manifest: Manifest) -> Callable[[Sequence[Local]], list[str]]:
    """What ``apply_train`` calls with the landed repositories; the client is made now (a missing token refuses
    before anything is tagged)."""
    from metarepo.hosting.client import github_client
    from metarepo.hosting.pulls import repo_slug
    from metarepo.hosting.releases import create_release

    client = github_client(manifest)

    def make(landed: Sequence[Local]) -> list[str]:
        notes = []
        for local in landed:
            project, tag = local.ready.project, local.ready.release.tag
            slug = repo_slug(project.url)
            if slug is None:
                notes.append(f"{project.name}: no GitHub Release ({redact(project.url)} is not a GitHub repository)")
                continue
            try:
                info = create_release(client, slug, tag=tag, name=tag, notes=release_notes(local.section))
            except MetaError as exc:
                notes.append(f"{project.name}: GitHub Release {tag} not made: {exc}")
            else:
                notes.append(f"{project.name}: GitHub Release {tag}: {info.url}")
        return notes

    return make
