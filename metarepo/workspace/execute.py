"""``meta exec`` and ``meta git``: one command in every selected project, in parallel.

The command's variables go in the environment (``META_PROJECT``,
``META_PROJECT_PATH``, ``META_PROJECT_URL``, ``META_ROOT``), never pasted
into the shell string. Which projects failed is remembered under
``.metarepo/`` (ignored by git) so ``--failed`` can re-run just those.

A shell command is run with ``/bin/sh -c``, except a plain one (words of
letters, digits and ``-_.,/:@%+=``, not starting with a shell builtin or
keyword, no assignment): the shell would only split it at blanks and run the
program, so it is run directly, as GNU make does, which saves one process per
project. If that program cannot be started (not found, not executable, a
script with no ``#!`` line), the command goes to ``/bin/sh -c`` after all, so
the result and the message are the shell's.
"""

from __future__ import annotations

import json
import re
from typing import Callable, Mapping, Sequence

from metarepo.errors import MetaError
from metarepo.manifest import Manifest, Project, edit_lock, write_atomic
from metarepo.runner import CommandResult, Failed, Outcome, Run, Skip, State, child_env, run_command, run_parallel
from metarepo.worktree import CloneState

LAST_RUN = "last-run.json"
SHELL = "/bin/sh"

_PLAIN = re.compile(r"[A-Za-z0-9_\-.,/:@%+=]+(?:[ \t]+[A-Za-z0-9_\-.,/:@%+=]+)*")
# POSIX sh (and dash) builtins and reserved words: these need the shell itself.
_SHELL_WORDS = frozenset(
    ". : [ alias bg break cd command continue echo eval exec exit export false fc fg getopts hash jobs "
    "kill local newgrp printf pwd read readonly return set shift test times trap true type ulimit umask "
    "unalias unset wait ! { } case do done elif else esac fi for if in then until while".split())


def shell_argv(command: str) -> list[str]:
    return [SHELL, "-c", command]


def direct_argv(argv: Sequence[str]) -> list[str] | None:
    """For ``sh -c CMD`` with a plain CMD, the argv the shell would run; else None."""
    if len(argv) != 3 or argv[0] != SHELL or argv[1] != "-c":
        return None
    command = argv[2].strip(" \t")
    if not _PLAIN.fullmatch(command):
        return None
    words = command.split()
    if words[0] in _SHELL_WORDS or "=" in words[0] or words[0].startswith("-"):
        return None
    return words


def project_env(manifest: Manifest, project: Project, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child environment for ``project``; ``base`` is ``child_env()``, computed once per run."""
    return {
        **(base if base is not None else child_env()),
        "META_PROJECT": project.name,
        "META_PROJECT_PATH": str(project.path),
        "META_PROJECT_URL": project.url,
        "META_ROOT": str(manifest.root),
        "PWD": str(project.path),  # what /bin/sh would set
    }


def require_clone(project: Project) -> None:
    """Before working in ``project`` through the runner: ``Failed`` if its folder now leads outside the meta
    repo, ``Skip`` (saying why, and what to run) unless it is a finished clone."""
    try:
        project.check_inside()
    except MetaError as exc:
        raise Failed(exc.message) from None
    state = project.state
    if state is not CloneState.CLONED:
        raise Skip(state.value if state is CloneState.NOT_GIT else f"{state.value} (run `meta update`)")


def run_in_projects(
    manifest: Manifest,
    projects: Sequence[Project],
    argv: Sequence[str],
    *,
    jobs: int,
    timeout: float | None = None,
    on_lines: Callable[[Project, bytes, bool], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Run:
    """Run ``argv`` in each project; outcome values are ``CommandResult``s.

    A project whose folder is missing is skipped ("not cloned"); a command
    that exits non-zero or times out is a failed outcome carrying its result.
    """
    by_name = {p.name: p for p in projects}
    base = child_env()
    direct = direct_argv(argv)
    attempts = [direct, list(argv)] if direct else [list(argv)]

    def work(name: str) -> CommandResult:
        project = by_name[name]
        require_clone(project)
        sink = (lambda data, idle: on_lines(project, data, idle)) if on_lines else None
        env = project_env(manifest, project, base)
        for n, candidate in enumerate(attempts):
            try:
                result = run_command(candidate, cwd=project.path, env=env, timeout=timeout, on_lines=sink)
                break
            except OSError:  # the program could not be started: let the shell run it (and say why)
                if n == len(attempts) - 1:
                    raise
        if result.timed_out:
            raise Failed(f"timed out after {timeout:g}s", result)
        if result.returncode != 0:
            raise Failed(f"exit {result.returncode}", result)
        return result

    run = run_parallel(list(by_name), work, jobs=jobs, on_outcome=on_outcome)
    remember_failures(manifest, argv, run)
    return run


def remember_failures(manifest: Manifest, argv: Sequence[str], run: Run) -> None:
    failed = [str(o.key) for o in run.outcomes if o.state in (State.FAILED, State.INTERRUPTED)]
    try:
        with edit_lock(manifest.root, wait=5):
            write_atomic(manifest.state_dir / LAST_RUN, json.dumps({"argv": list(argv), "failed": failed}) + "\n",
                         durable=False)
    except (OSError, MetaError):
        pass  # only `--failed` needs it


def last_failures(manifest: Manifest) -> tuple[str, ...]:
    """The projects that failed in the last ``exec``/``git`` run (empty if none or unknown)."""
    try:
        data = json.loads((manifest.state_dir / LAST_RUN).read_text())
        return tuple(str(name) for name in data.get("failed", ()))
    except (OSError, ValueError, AttributeError):
        return ()
