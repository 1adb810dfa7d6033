"""``meta exec CMD`` and ``meta git ARGS``: grouped, streamed or JSON output."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from metarepo.cli.app import application
from metarepo.cli.common import SECONDS, json_option, jobs_from, manifest_from, select, selection_options
from metarepo.cli.passthrough import GitPassThrough, PassThrough
from metarepo.runner import Run, State

_RUN_OPTIONS = [
    click.option("--stream", is_flag=True, help="Print lines live, prefixed with the project."),
    click.option("--ordered", is_flag=True,
                 help="Grouped output in manifest order: each block once every block before it is printed."),
    json_option(help="One JSON document: each project's exit code, duration and output."),
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


_AFTER_HELP = """a word that is exactly one of our --long options, or -j, is ours;
    a --long one a typo away from one of ours (--stram, --exlude) is refused
    with a suggestion before anything runs; any other (--oneline, --stat,
    --tags, -h) is {whose}. Everything after -- is {whose}, untouched.
"""


@click.command("exec", cls=PassThrough)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True, metavar="CMD...")
@run_options
@click.pass_context
def exec_(ctx: click.Context, command: tuple[str, ...], **kwargs: Any) -> int:
    """Run the shell command CMD in every selected project, in parallel.

    Quote CMD as one argument (`meta exec "git status --short"`), or pass it
    as several (`meta exec -- make test`). Each run gets META_PROJECT,
    META_PROJECT_PATH, META_PROJECT_URL and META_ROOT in its environment.

    Our options may stand before or after CMD, as npm meta users type them.
    Before CMD, every option must be one of ours. After CMD's first word,
    """
    from metarepo.workspace.execute import shell_argv

    text = command[0] if len(command) == 1 else shlex.join(command)
    return _run(ctx, shell_argv(text), text, kwargs)


@click.command("git", cls=GitPassThrough)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, required=True)
@run_options
@click.pass_context
def git(ctx: click.Context, args: tuple[str, ...], **kwargs: Any) -> int:
    """Run `git ARGS` in every selected project (no shell involved).

    Our options may stand anywhere. Before git's subcommand, an option is
    ours or one of git's own (-C DIR, -c NAME=VALUE, --no-pager...); any
    other is refused. After it,
    """
    return _run(ctx, ["git", *args], "git " + shlex.join(args), kwargs)


exec_.help += _AFTER_HELP.format(whose="the command's")
git.help += _AFTER_HELP.format(whose="git's")


def _run(ctx: click.Context, argv: list[str], shown: str, kwargs: dict[str, Any]) -> int:
    from metarepo.workspace.execute import last_failures, run_in_projects

    app = application(ctx)
    stream, as_json, timeout = kwargs.pop("stream"), kwargs.pop("as_json"), kwargs.pop("timeout")
    dry_run, only_failed, include_root = kwargs.pop("dry_run"), kwargs.pop("only_failed"), kwargs.pop("include_root")
    kwargs.pop("parallel", None)
    ordered = kwargs.pop("ordered")
    if stream and as_json:
        raise click.UsageError("--stream and --json cannot be used together")
    if ordered and stream:
        raise click.UsageError("--ordered keeps whole blocks in order; --stream prints lines as they come")

    only = None
    if only_failed:
        only = last_failures(manifest_from(ctx))
        if not only:
            app.info("no failed projects recorded from the last run; nothing to do")
            return 0
    manifest, projects = select(ctx, kwargs, only=only)
    if not manifest.projects and not include_root:
        app.info("no projects in .meta yet (add one with `meta project add PATH URL`); nothing to run")
        return 0
    if include_root:
        projects = [manifest.root_project(), *projects]
    jobs = jobs_from(kwargs)
    if dry_run:
        for p in projects:
            app.echo(f"{p.name}: {shown}  (in {p.path})")
        app.echo(f"would run in {len(projects)} project{'s' if len(projects) != 1 else ''}, {jobs} at once", err=True)
        return 0

    if as_json:
        run = run_in_projects(manifest, projects, argv, jobs=jobs, timeout=timeout)
        app.json(run_json(shown, run, {p.name: p for p in projects}), streamed=True)
        return app.exit_status(run)

    out = sys.stdout.buffer
    if stream:
        from metarepo.cli.stream import PrefixedStream

        width = max((len(p.name) for p in projects), default=0)
        lines = PrefixedStream(out, {p.name: app.style(p.name.ljust(width), fg="cyan").encode() + b" | "
                                     for p in projects})

        def on_end(outcome) -> None:
            if outcome.state is not State.DONE:
                lines.flush()
                app.failed(str(outcome.key), outcome.reason)

        run = run_in_projects(manifest, projects, argv, jobs=jobs, timeout=timeout,
                              on_lines=lambda project, data, idle: lines.write(project.name, data, idle),
                              on_outcome=on_end)
        lines.flush()
    elif ordered:
        from metarepo.cli.blocks import OrderedBlocks

        blocks = OrderedBlocks(app, out, [p.name for p in projects])
        try:
            run = run_in_projects(manifest, projects, argv, jobs=jobs, timeout=timeout, on_outcome=blocks.add)
        finally:
            blocks.finish()
    else:
        from metarepo.cli.blocks import print_block

        run = run_in_projects(manifest, projects, argv, jobs=jobs, timeout=timeout,
                              on_outcome=lambda outcome: print_block(app, out, outcome))
    sys.stdout.flush()
    app.summary(shown if len(shown) <= 40 else shown[:39] + "…", run)
    return app.exit_status(run)


def run_json(shown: str, run: Run, projects: dict) -> dict:
    """The whole run as one document; each output is streamed from its file as it is written."""
    from metarepo.cli.jsonout import Streamed

    def entry(o) -> dict:
        result = o.value
        project = projects.get(o.key)
        return {
            "project": o.key,
            "path": str(project.path) if project else None,
            "status": o.state,
            "exit_code": result.returncode if result is not None else None,
            "timed_out": bool(result.timed_out) if result is not None else False,
            "duration": round(o.seconds, 3),
            "reason": o.reason or None,
            "output": Streamed(result.output.chunks(), result.output.close) if result is not None else "",
        }

    counts = {s: len(run.by_state(s)) for s in State}
    return {"command": shown, "projects": [entry(o) for o in run.outcomes],
            "summary": {"total": len(run.outcomes), "ok": counts[State.DONE], "failed": counts[State.FAILED],
                        "skipped": counts[State.SKIPPED], "interrupted": run.interrupted,
                        "seconds": round(run.seconds, 3)}}
