"""``meta batch push``: push each repo's batch branch; a rejected push is that repo's failure only.

Only a branch meta batch made is pushed (never the default branch, never
somebody's branch that happens to have the name). A branch that ``meta batch
run`` rebased onto a newer default branch replaces its pushed self only when
every commit there is meta batch's own, and only with a lease on the commit
this clone last saw (``--force-with-lease``): a commit somebody else pushed
to it is never lost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

from metarepo import git
from metarepo.batch import branch as gitbranch
from metarepo.manifest import Project
from metarepo.report import NULL, Reporter
from metarepo.runner import Failed, Run, Skip, run_parallel


@dataclass(frozen=True)
class Pushed:
    project: str
    branch: str
    commit: str
    state: str  # pushed or up to date

    def as_json(self) -> dict:
        return asdict(self)


def parse_porcelain(text: str) -> tuple[str, str]:
    """(flag, summary) of the ref line in ``git push --porcelain`` output."""
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and len(parts[0]) == 1:
            return parts[0], parts[2]
    return "", ""


def push_branches(projects: Sequence[Project], *, branch: str, jobs: int, reporter: Reporter = NULL) -> Run:
    by_name = {p.name: p for p in projects}

    def work(name: str) -> Pushed:
        project = by_name[name]
        if not project.cloned:
            raise Skip("not cloned")
        if not gitbranch.has_branch(project.path, branch):
            raise Skip(f"no branch {branch} here (nothing changed?)")
        base = gitbranch.base_branch(project)
        if branch == base:
            raise Failed(f"{branch} is this repo's default branch; meta batch push only pushes batch branches")
        if not gitbranch.is_ours(project.path, f"refs/heads/{branch}", branch, base):
            raise Failed(f"branch {branch} here was not made by meta batch; not pushed (push it yourself if you "
                         "mean to)")
        commit = git.run_git(["rev-parse", f"refs/heads/{branch}"], cwd=project.path).stdout.strip()
        lease = []
        replaced = gitbranch.rewritten(project.path, branch)
        if replaced:
            if not gitbranch.is_ours(project.path, f"refs/remotes/origin/{branch}", branch, base):
                raise Failed(f"origin's {branch} has commits meta batch did not make and this branch does not "
                             "have them; not forced (merge them, or push it yourself)")
            lease = [f"--force-with-lease=refs/heads/{branch}:{replaced}"]
        proc = git.run_git(["push", "--porcelain", *lease, "origin", f"refs/heads/{branch}:refs/heads/{branch}"],
                           cwd=project.path, check=False)
        flag, summary = parse_porcelain(proc.stdout)
        if proc.returncode != 0 or flag == "!":
            reason = summary or git.first_error_line(proc.stderr)
            if "stale info" in reason:
                reason += f" (origin's {branch} changed since this clone last fetched; run the batch again)"
            raise Failed(f"push rejected: {reason}")
        state = "up to date" if flag == "=" else "pushed, replacing the branch before its rebase" if lease \
            else "pushed"
        return Pushed(name, branch, commit, state)

    return run_parallel(list(by_name), work, jobs=jobs, reporter=reporter)
