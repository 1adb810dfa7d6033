"""Pull requests: open or update one per repo, and read each one's state and checks."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from metarepo.hosting.client import with_backoff

_SLUG = re.compile(r"(?:^[\w.-]+@[\w.-]+:|^[a-z+]+://(?:[^@/]*@)?[^/]+/)(?P<slug>[\w.-]+/[\w.-]+?)(?:\.git)?/?$")

FAILED_CONCLUSIONS = {"failure", "cancelled", "timed_out", "action_required", "stale", "startup_failure"}
PASSED_CONCLUSIONS = {"success", "neutral", "skipped"}


@dataclass(frozen=True)
class PullRequestInfo:
    repo: str  # owner/name
    number: int
    url: str
    state: str  # open, draft, closed or merged
    title: str
    head_sha: str
    action: str = ""  # opened, updated, unchanged (open_or_update only)

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Checks:
    state: str  # success, failure, pending or none
    passed: int = 0
    failed: int = 0
    pending: int = 0
    failing: tuple[str, ...] = ()

    def as_json(self) -> dict:
        data = asdict(self)
        data["failing"] = list(self.failing)
        return data


def repo_slug(url: str) -> str | None:
    """``owner/name`` from a GitHub clone URL (https, ssh or scp-like), or None."""
    match = _SLUG.search(url.strip())
    return match.group("slug") if match else None


def _info(repo: str, pr: Any, action: str = "") -> PullRequestInfo:
    if pr.merged_at is not None:
        state = "merged"
    elif pr.state == "open" and pr.draft:
        state = "draft"
    else:
        state = pr.state
    return PullRequestInfo(repo=repo, number=pr.number, url=pr.html_url, state=state, title=pr.title,
                           head_sha=pr.head.sha, action=action)


def open_or_update(client: Any, slug: str, *, head: str, base: str, title: str, body: str | None = None,
                   draft: bool = False) -> PullRequestInfo:
    """The open pull request from ``head`` into ``base``: updated if it exists, else opened."""
    owner = slug.split("/", 1)[0]
    repo = client.get_repo(slug)
    existing = with_backoff(lambda: list(repo.get_pulls(state="open", head=f"{owner}:{head}", base=base)),
                            what=f"{slug}: listing pull requests")
    if existing:
        pr = existing[0]
        changes: dict[str, str] = {}
        if pr.title != title:
            changes["title"] = title
        if body is not None and (pr.body or "") != body:
            changes["body"] = body
        if not changes:
            return _info(slug, pr, "unchanged")
        with_backoff(lambda: pr.edit(**changes), what=f"{slug}: updating pull request #{pr.number}")
        return _info(slug, pr, "updated")
    pr = with_backoff(lambda: repo.create_pull(base=base, head=head, title=title, body=body or "", draft=draft),
                      what=f"{slug}: opening a pull request")
    return _info(slug, pr, "opened")


def pull_request_status(client: Any, slug: str, *, head: str) -> tuple[PullRequestInfo | None, Checks]:
    """The newest pull request from ``head`` (any state) and its head commit's checks."""
    owner = slug.split("/", 1)[0]
    repo = client.get_repo(slug)
    pulls = with_backoff(lambda: list(repo.get_pulls(state="all", head=f"{owner}:{head}")),
                         what=f"{slug}: listing pull requests")
    if not pulls:
        return None, Checks("none")
    info = _info(slug, pulls[0])
    commit = with_backoff(lambda: repo.get_commit(info.head_sha), what=f"{slug}: reading commit")
    runs = with_backoff(lambda: list(commit.get_check_runs()), what=f"{slug}: reading check runs")
    combined = with_backoff(lambda: commit.get_combined_status(), what=f"{slug}: reading statuses")
    passed = failed = pending = 0
    failing = []
    for run in runs:
        if run.status != "completed":
            pending += 1
        elif run.conclusion in PASSED_CONCLUSIONS:
            passed += 1
        else:
            failed += 1
            failing.append(run.name)
    for status in combined.statuses:
        if status.state == "success":
            passed += 1
        elif status.state == "pending":
            pending += 1
        else:
            failed += 1
            failing.append(status.context)
    state = "failure" if failed else "pending" if pending else "success" if passed else "none"
    return info, Checks(state, passed, failed, pending, tuple(failing))
