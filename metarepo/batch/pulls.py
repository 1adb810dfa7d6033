"""``meta batch pr`` and ``meta batch status``: one pull request per repo, through the GitHub seam.

Requests go one at a time (GitHub asks integrators not to send concurrent
writes; secondary rate limits punish it), each repo's failure is its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from metarepo import git
from metarepo.batch import branch as gitbranch
from metarepo.hosting.pulls import Checks, PullRequestInfo, open_or_update, pull_request_status, repo_slug
from metarepo.manifest import Project
from metarepo.report import NULL, Reporter
from metarepo.runner import Failed, Run, Skip, run_parallel
from metarepo.urls import redact


@dataclass(frozen=True)
class Status:
    project: str
    pull_request: PullRequestInfo | None
    checks: Checks

    def as_json(self) -> dict:
        return {"project": self.project,
                "pull_request": self.pull_request.as_json() if self.pull_request else None,
                "checks": self.checks.as_json()}


def _slug(project: Project) -> str:
    slug = repo_slug(project.url)
    if slug is None:
        raise Skip(f"{redact(project.url)} is not a GitHub repository URL")
    return slug


def open_pull_requests(projects: Sequence[Project], *, client: Any, branch: str, title: str,
                       body: str | None = None, draft: bool = False, reporter: Reporter = NULL) -> Run:
    by_name = {p.name: p for p in projects}

    def work(name: str) -> PullRequestInfo:
        project = by_name[name]
        slug = _slug(project)
        if not project.cloned:
            raise Skip("not cloned")
        pushed = git.run_git(["rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}"],
                             cwd=project.path, check=False).returncode == 0
        if not pushed:
            raise Skip(f"branch {branch} is not on origin (run `meta batch push`)")
        base = gitbranch.base_branch(project)
        try:
            return open_or_update(client, slug, head=branch, base=base, title=title, body=body, draft=draft)
        except Exception as exc:  # noqa: BLE001 - one repo's API error is its own failure
            raise Failed(str(exc)) from None

    return run_parallel(list(by_name), work, jobs=1, reporter=reporter)


def batch_status(projects: Sequence[Project], *, client: Any, branch: str, reporter: Reporter = NULL) -> Run:
    by_name = {p.name: p for p in projects}

    def work(name: str) -> Status:
        slug = _slug(by_name[name])
        try:
            info, checks = pull_request_status(client, slug, head=branch)
        except Exception as exc:  # noqa: BLE001
            raise Failed(str(exc)) from None
        return Status(name, info, checks)

    return run_parallel(list(by_name), work, jobs=1, reporter=reporter)
