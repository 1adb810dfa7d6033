"""``meta import github ORG``: an organisation's repositories, filtered, added to the manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

from metarepo.errors import ManifestError, NotFoundError
from metarepo.hosting.client import HostingError, with_backoff
from metarepo.manifest import (Manifest, check_folder, edit_lock, load_manifest, normalize_folder, save_manifest,
                               with_project)
from metarepo.urls import same_remote, unsafe_reason


@dataclass(frozen=True)
class HostedRepo:
    name: str
    full_name: str
    ssh_url: str
    clone_url: str
    default_branch: str
    archived: bool
    fork: bool
    topics: tuple[str, ...]

    def as_json(self) -> dict:
        data = asdict(self)
        data["topics"] = list(self.topics)
        return data


@dataclass(frozen=True)
class Imported:
    added: tuple[tuple[str, str], ...]  # (folder, url)
    skipped: tuple[tuple[str, str], ...]  # (repo, why)


def list_org_repos(client: Any, org: str, *, topic: str | None = None, archived: bool = True,
                   forks: bool = True) -> list[HostedRepo]:
    """Every repository of ``org`` (one paginated listing), filtered."""
    try:
        organisation = client.get_organization(org)  # lazy: no request until the listing
        repos = with_backoff(lambda: list(organisation.get_repos(type="all")),
                             what=f"listing {org}'s repositories")
    except HostingError as exc:
        if " 404 " in f" {exc.message} ":
            raise NotFoundError(f"no organisation {org!r} on GitHub (or the token cannot see it)") from None
        raise
    result = []
    for repo in repos:
        info = HostedRepo(name=repo.name, full_name=repo.full_name, ssh_url=repo.ssh_url, clone_url=repo.clone_url,
                          default_branch=repo.default_branch or "", archived=bool(repo.archived),
                          fork=bool(repo.fork), topics=tuple(repo.topics or ()))
        if topic and topic not in info.topics:
            continue
        if not archived and info.archived:
            continue
        if not forks and info.fork:
            continue
        result.append(info)
    return sorted(result, key=lambda r: r.name.lower())


def import_repos(manifest: Manifest, repos: Sequence[HostedRepo], *, prefix: str = "",
                 https: bool = False) -> Imported:
    """Add each repo as ``PREFIX/NAME``; ones already listed (same folder or URL) are skipped."""
    with edit_lock(manifest.root):  # read .meta inside the lock: another edit may have just written it
        return _import_repos(load_manifest(manifest.root), repos, prefix=prefix, https=https)


def _import_repos(manifest: Manifest, repos: Sequence[HostedRepo], *, prefix: str, https: bool) -> Imported:
    from metarepo.workspace.projects import ignore_change

    data: dict[str, Any] = dict(manifest.data)
    existing = dict(data.get("projects") or {})
    folders = {normalize_folder(k) for k in existing}
    added, skipped = [], []
    default_branch = manifest.defaults.get("branch")
    for repo in repos:
        folder = f"{prefix.strip('/')}/{repo.name}" if prefix.strip("/") else repo.name
        url = repo.clone_url if https else repo.ssh_url
        try:
            check_folder(folder, str(manifest.file))
        except ManifestError as exc:
            skipped.append((repo.full_name, f"folder {folder!r} refused: {exc.message}"))
            continue
        if unsafe_reason(url):
            skipped.append((repo.full_name, f"URL refused: {unsafe_reason(url)}"))
            continue
        if normalize_folder(folder) in folders:
            skipped.append((repo.full_name, f"{folder} is already in the manifest"))
            continue
        if any(same_remote(url, u) for u in existing.values() if isinstance(u, str)):
            skipped.append((repo.full_name, "its URL is already in the manifest"))
            continue
        data = with_project(data, folder, url)
        if repo.default_branch and repo.default_branch != default_branch:
            ours = data.setdefault("metarepo", {}).setdefault("projects", {})
            ours.setdefault(folder, {})["branch"] = repo.default_branch
        folders.add(normalize_folder(folder))
        existing[folder] = url
        added.append((folder, url))
    if added:
        save_manifest(manifest.root, data, also=ignore_change(manifest.root, add=[folder for folder, _ in added]))
    return Imported(tuple(added), tuple(skipped))
