"""``meta exec CMD`` and ``meta git ARGS``: grouped, streamed or JSON output."""

from __future__ import annotations

import codecs
import json
import shlex
import sys
import threading
from typing import Any, Sequence

import click

from metarepo.cli.common import SECONDS, jobs_from, select, selection_options
from metarepo.cli.render import exit_status, style, summary_line
from metarepo.runner import State

_RUN_OPTIONS = [
    click.option("--stream", is_flag=True, help="Print lines live, prefixed with the project."),
    click.option("--json", "as_json", is_flag=True,
                 help="One JSON document: each project's exit code, duration and output."),
    click.option("--timeout", type=SECONDS, metavar="S",
                 help="End a project's whole process group after S seconds."),
    click.option("--dry-run", is_flag=True, help="List what would run, and run nothing."),
    click.option("--failed", "only_failed", is_flag=True, help="Only the projects that failed last time."),
    click.option("--include-root", is_flag=True, help="Also run in the meta repo itself."),
    click.option("--parallel", is_flag=True, hidden=True, help="Accepted for npm meta; always parallel."),
]


def run_options(func):
    for option in reversed(_RUN_OPTIONS):
        func = option(func)
    return selection_options(func)


@click.command("exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True})
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
@run_options
@click.pass_context
def exec_(ctx: click.Context, command: tuple[str, ...], **kwargs: Any) -> int:
    """Run the shell command CMD in every selected project, in parallel.

    Quote CMD as one argument (`meta exec "git status --short"`), or pass it
    as several (`meta exec -- make test`). Each run gets META_PROJECT,
    META_PROJECT_PATH, META_PROJECT_URL and META_ROOT in its environment.
    """
    from metarepo.workspace.execute import shell_argv

    text = command[0] if len(command) == 1 else shlex.join(command)
    return _run(ctx, shell_argv(text), text, kwargs)


# Our long options may stand anywhere in `meta git ...`, as npm meta users type them;
# everything else (and everything after `--`) belongs to git.
_GIT_FLAGS = {"--stream", "--json", "--dry-run", "--failed", "--include-root", "--parallel"}
_GIT_VALUED = {"--include-only", "--exclude", "--include-pattern", "--exclude-pattern", "--tag",
               "--jobs", "--timeout"}


def split_git_args(args: Sequence[str]) -> tuple[list[str], list[str]]:
    ours, theirs = [], []
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        name = arg.split("=", 1)[0]
        if arg == "--":
            theirs.extend(items[i + 1:])
            break
        if name in _GIT_FLAGS:
            ours.append(arg)
        elif name in _GIT_VALUED:
            ours.append(arg)
            if "=" not in arg and i + 1 < len(items):
                ours.append(items[i + 1])
                i += 1
        else:
            theirs.append(arg)
        i += 1
    return ours, theirs


@click.command("git", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("args", nargs=-1, type=click.UNPROCESSED, required=True)
@click.pass_context
def git(ctx: click.Context, args: tuple[str, ...]) -> int:
    """Run `git ARGS` in every selected project (no shell involved).

    The selection and output flags of `meta exec` may stand anywhere;
    everything after `--` goes to git untouched.
    """
    ours, theirs = split_git_args(args)
    if not theirs:
        raise click.UsageError("no git command given")

    @click.command()
    @run_options
    def parse(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    kwargs = parse.main(args=ours, prog_name="meta git", standalone_mode=False)
    return _run(ctx, ["git", *theirs], "git " + shlex.join(theirs), kwargs)


def _run(ctx: click.Context, argv: list[str], shown: str, kwargs: dict[str, Any]) -> int:
    from metarepo.workspace.execute import last_failures, run_in_projects

    stream, as_json, timeout = kwargs.pop("stream"), kwargs.pop("as_json"), kwargs.pop("timeout")
    dry_run, only_failed, include_root = kwargs.pop("dry_run"), kwargs.pop("only_failed"), kwargs.pop("include_root")
    kwargs.pop("parallel", None)
    if stream and as_json:
        raise click.UsageError("--stream and --json cannot be used together")
    from metarepo.cli.common import manifest_from

    only = None
    if only_failed:
        only = last_failures(manifest_from(ctx))
        if not only:
            click.echo("meta: no failed projects recorded from the last run; nothing to do", err=True)
            return 0
    manifest, projects = select(ctx, kwargs, only=only)
    if not manifest.projects and not include_root:
        click.echo("meta: no projects in .meta yet (add one with `meta project add PATH URL`); nothing to run",
                   err=True)
        return 0
    if include_root:
        projects = [manifest.root_project(), *projects]
    jobs = jobs_from(kwargs)
    if dry_run:
        for p in projects:
            click.echo(f"{p.name}: {shown}  (in {p.path})")
        click.echo(f"would run in {len(projects)} projects, {jobs} at once", err=True)
        return 0

    if as_json:
        run = run_in_projects(manifest, projects, argv, jobs=jobs, timeout=timeout)
        write_json(sys.stdout, shown, run, {p.name: p for p in projects})
        return exit_status(run)

    out = sys.stdout.buffer
    if stream:
        lock = threading.Lock()
        width = max((len(p.name) for p in projects), default=0)

        def on_line(project, line: bytes) -> None:
            prefix = style(project.name.ljust(width), fg="cyan").encode() + b" | "
            with lock:
                out.write(prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
                out.flush()

        def on_end(outcome) -> None:
            if outcome.state is not State.DONE:
                with lock:
                    sys.stdout.flush()
                    click.echo(style(f"✗ {outcome.key}: {outcome.reason}", fg="red", err=True), err=True)

        run = run_in_projects(manifest, projects, argv, jobs=jobs, timeout=timeout, on_line=on_line,
                              on_outcome=on_end)
    else:
        def on_outcome(outcome) -> None:
            print_block(out, outcome)

        run = run_in_projects(manifest, projects, argv, jobs=jobs, timeout=timeout, on_outcome=on_outcome)
    sys.stdout.flush()
    click.echo(summary_line(shown if len(shown) <= 40 else shown[:39] + "…", run), err=True)
    return exit_status(run)


def print_block(out, outcome) -> None:
    """One project's output, whole, with a header saying how it ended."""
    result = outcome.value
    seconds = f"{outcome.seconds:.2f}s"
    if outcome.state is State.DONE:
        mark = style("✓", fg="green")
        detail = style(seconds, dim=True)
    elif outcome.state is State.SKIPPED:
        mark = style("-", fg="yellow")
        detail = style(f"skipped: {outcome.reason}", fg="yellow")
    else:
        mark = style("✗", fg="red")
        detail = style(f"{outcome.reason} · {seconds}", fg="red")
    out.write(f"{mark} {style(str(outcome.key), bold=True)} {detail}\n".encode())
    if result is not None:
        last = b""
        for chunk in result.output.chunks():
            out.write(chunk)
            last = chunk
        if last and not last.endswith(b"\n"):
            out.write(b"\n")
        result.output.close()
    out.flush()


def write_json(out, shown: str, run, projects: dict) -> None:
    """The whole run as one JSON document, output streamed from disk (memory stays flat)."""
    counts = {s: len(run.by_state(s)) for s in State}
    out.write('{\n  "command": %s,\n  "projects": [' % json.dumps(shown))
    for n, o in enumerate(run.outcomes):
        result = o.value
        project = projects.get(o.key)
        head = {
            "project": o.key,
            "path": str(project.path) if project else None,
            "status": o.state,
            "exit_code": result.returncode if result is not None else None,
            "timed_out": bool(result.timed_out) if result is not None else False,
            "duration": round(o.seconds, 3),
            "reason": o.reason or None,
        }
        body = json.dumps(head, ensure_ascii=False)[:-1]
        out.write(("," if n else "") + "\n    " + body + ', "output": "')
        if result is not None:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            for chunk in result.output.chunks():
                out.write(json.dumps(decoder.decode(chunk), ensure_ascii=False)[1:-1])
            out.write(json.dumps(decoder.decode(b"", final=True), ensure_ascii=False)[1:-1])
            result.output.close()
        out.write('"}')
    summary = {"total": len(run.outcomes), "ok": counts[State.DONE], "failed": counts[State.FAILED],
               "skipped": counts[State.SKIPPED], "interrupted": run.interrupted, "seconds": round(run.seconds, 3)}
    out.write("\n  ],\n  \"summary\": %s\n}\n" % json.dumps(summary))
    out.flush()
