"""``meta exec`` and ``meta git``: one command in every selected project, in parallel.

The command's variables go in the environment (``META_PROJECT``,
``META_PROJECT_PATH``, ``META_PROJECT_URL``, ``META_ROOT``), never pasted
into the shell string. Which projects failed is remembered under
``.metarepo/`` (ignored by git) so ``--failed`` can re-run just those.
"""

from __future__ import annotations

import json
from typing import Callable, Sequence

from metarepo.manifest import Manifest, Project, write_atomic
from metarepo.runner import (DONE, CommandResult, Failed, Outcome, Run, Skip, child_env, run_command,
                             run_parallel)

LAST_RUN = "last-run.json"


def shell_argv(command: str) -> list[str]:
    return ["/bin/sh", "-c", command]


def project_env(manifest: Manifest, project: Project) -> dict[str, str]:
    return child_env({
        "META_PROJECT": project.name,
        "META_PROJECT_PATH": str(project.path),
        "META_PROJECT_URL": project.url,
        "META_ROOT": str(manifest.root),
    })


def run_in_projects(
    manifest: Manifest,
    projects: Sequence[Project],
    argv: Sequence[str],
    *,
    jobs: int,
    timeout: float | None = None,
    on_line: Callable[[Project, bytes], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Run:
    """Run ``argv`` in each project; outcome values are ``CommandResult``s.

    A project whose folder is missing is skipped ("not cloned"); a command
    that exits non-zero or times out is a failed outcome carrying its result.
    """
    by_name = {p.name: p for p in projects}

    def work(name: str) -> CommandResult:
        project = by_name[name]
        if not project.path.is_dir():
            raise Skip("not cloned (run `meta update`)")
        line_sink = (lambda line: on_line(project, line)) if on_line else None
        result = run_command(argv, cwd=project.path, env=project_env(manifest, project),
                             timeout=timeout, on_line=line_sink)
        if result.timed_out:
            raise Failed(f"timed out after {timeout:g}s", result)
        if result.returncode != 0:
            raise Failed(f"exit {result.returncode}", result)
        return result

    run = run_parallel(list(by_name), work, jobs=jobs, on_outcome=on_outcome)
    remember_failures(manifest, argv, run)
    return run


def remember_failures(manifest: Manifest, argv: Sequence[str], run: Run) -> None:
    failed = [str(o.key) for o in run.outcomes if o.state != DONE and o.state != "skipped"]
    try:
        write_atomic(manifest.ensure_state_dir() / LAST_RUN, json.dumps({"argv": list(argv), "failed": failed}) + "\n")
    except OSError:
        pass


def last_failures(manifest: Manifest) -> tuple[str, ...]:
    """The projects that failed in the last ``exec``/``git`` run (empty if none or unknown)."""
    try:
        data = json.loads((manifest.state_dir / LAST_RUN).read_text())
        return tuple(str(name) for name in data.get("failed", ()))
    except (OSError, ValueError, AttributeError):
        return ()
