"""``meta batch run``: the same change in every selected repo, on its own branch, committed if anything changed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

from metarepo.batch import branch as gitbranch
from metarepo.errors import UsageError
from metarepo.manifest import Manifest, Project, write_atomic
from metarepo.report import NULL, Reporter
from metarepo.runner import Failed, Run, Skip, child_env, run_command, run_parallel

STATE_FILE = "batch.json"


@dataclass(frozen=True)
class Change:
    """What happened in one repo."""

    project: str
    branch: str
    base: str
    how: str  # created or reused
    commit: str | None  # the new commit, None when nothing changed
    ahead: int  # commits on the branch beyond the default branch
    caught_up: str | None = None  # a reused branch that was behind: "rebased", or "conflicts" (left as it was)

    def as_json(self) -> dict:
        return asdict(self)


def shell_change(manifest: Manifest, command: str, timeout: float | None = None) -> Callable[[Project], None]:
    """A change that runs ``command`` through /bin/sh in the repo (values in the environment only)."""

    def change(project: Project) -> None:
        env = child_env({"META_PROJECT": project.name, "META_PROJECT_PATH": str(project.path),
                         "META_PROJECT_URL": project.url, "META_ROOT": str(manifest.root)})
        result = run_command(["/bin/sh", "-c", command], cwd=project.path, env=env, timeout=timeout)
        tail = result.output.text(limit=2000).strip().splitlines()
        last = f": {tail[-1]}" if tail else ""
        if result.timed_out:
            raise Failed(f"the command timed out{last}")
        if result.returncode != 0:
            raise Failed(f"the command exited {result.returncode}{last}")

    return change


def check_branch_name(branch: str) -> None:
    from metarepo.git import run_git

    proc = run_git(["check-ref-format", "--branch", branch], check=False)
    if proc.returncode != 0 or branch.startswith("-"):
        raise UsageError(f"--branch {branch!r} is not a valid branch name")


def apply_change(manifest: Manifest, projects: Sequence[Project], *, branch: str, message: str,
                 change: Callable[[Project], None], jobs: int, reporter: Reporter = NULL,
                 fetch: bool = True) -> Run:
    """In each repo: branch from the default branch, apply ``change``, commit if anything changed.

    Outcome values are ``Change``s. Skipped: not cloned, dirty, nothing changed.
    Failed: no default branch, a foreign branch of that name, the change failed
    (the repo is then left on the branch for inspection).
    """
    check_branch_name(branch)
    if not message.strip():
        raise UsageError("--message may not be empty")
    by_name = {p.name: p for p in projects}

    def work(name: str) -> Change:
        project = by_name[name]
        prepared = gitbranch.prepare(project, branch, fetch=fetch)
        try:
            change(project)
        except Failed as exc:
            raise Failed(f"{exc.reason} (left on branch {branch} for a look)") from None
        except Exception as exc:  # noqa: BLE001 - a change's failure is this repo's outcome
            raise Failed(f"{exc} (left on branch {branch} for a look)") from None
        commit = gitbranch.commit_all(project.path, branch, message)
        ahead = gitbranch.commits_ahead(project.path, branch, prepared.base)
        gitbranch.go_back(project.path, prepared)
        if commit is None and ahead == 0:
            if prepared.how == gitbranch.CREATED:
                gitbranch.drop_branch(project.path, branch)
            raise Skip("nothing changed")
        return Change(name, branch, prepared.base, prepared.how, commit, ahead, prepared.caught_up)

    run = run_parallel(list(by_name), work, jobs=jobs, reporter=reporter)
    remember(manifest, branch=branch, message=message,
             projects=[o.key for o in run.outcomes if o.ok])
    return run


def remember(manifest: Manifest, **fields: object) -> None:
    """The last batch (branch, message, repos with a change) under ``.metarepo/``, for push/pr/status."""
    try:
        write_atomic(manifest.ensure_state_dir() / STATE_FILE, json.dumps(fields, indent=2) + "\n")
    except OSError:
        pass


def last_batch(manifest: Manifest) -> dict:
    try:
        data = json.loads((manifest.state_dir / STATE_FILE).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def branch_or_last(manifest: Manifest, branch: str | None) -> str:
    """``--branch`` if given, else the last `meta batch run`'s branch."""
    if branch:
        return branch
    remembered = last_batch(manifest).get("branch")
    if not remembered:
        raise UsageError("no --branch given and no earlier `meta batch run` recorded here")
    return str(remembered)
