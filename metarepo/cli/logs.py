"""``meta logs ENV``: every selected service's lines, merged in time order, each prefixed with its service."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from metarepo.cli.app import application
from metarepo.cli.common import jobs_from, json_option, select, selection_options
from metarepo.cli.render import is_terminal

_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta", "bright_green",
            "bright_yellow", "bright_blue", "bright_red")


@click.command()
@click.argument("env")
@selection_options
@click.option("--since", metavar="WHEN", help="Only lines since WHEN: a duration back from now (10m, 2h, 30s) "
                                                "or an RFC 3339 time (2026-05-01T12:00:00Z).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines as they come, until Ctrl-C.")
@click.option("--grep", metavar="RE", help="Only lines in which the regular expression RE finds a match.")
@click.option("-t", "--timestamps", is_flag=True, help="Show each line's time (UTC).")
@json_option(help="One JSON object per line (JSON Lines, written as the lines come): service, time, stream, line.")
@click.pass_context
def logs(ctx: click.Context, env: str, since: str | None, follow: bool, grep: str | None, timestamps: bool,
         as_json: bool, **kwargs: Any) -> int:
    """The selected services' logs in ENV, merged in time order.

    Swarm: each task's lines from the engine (the driver must be one it can
    read back: json-file, local, journald, or a shipping driver through the
    engine's local cache). Kubernetes: kubectl logs by the label every
    Deployment carries. Lines of one service keep their order; equal times
    keep the services' order. With --follow, a line waits at most about a
    second for quieter services (so lines are in order unless one reaches
    meta more than a second late: then it is printed as it arrives).
    Colours only on a terminal without NO_COLOR.
    """
    from metarepo.logs.read import open_logs
    from metarepo.logs.since import parse_since

    app = application(ctx)
    manifest, projects = select(ctx, kwargs)
    jobs = jobs_from(kwargs)
    moment = parse_since(since) if since is not None else None
    out = sys.stdout
    session = open_logs(manifest, env, projects, since=moment, follow=follow, grep=grep, note=app.note,
                        on_idle=out.flush, jobs=jobs)
    try:
        if not session.services:
            app.info(f"logs {env}: none of the selected services could be read there")
            return 1
        if as_json:
            _write_json(session, out)
        else:
            _write_text(session, out, timestamps=timestamps)
        out.flush()
    finally:
        session.close()
    undecided = getattr(session.grep, "undecided", 0)
    if undecided:
        app.note(f"--grep could not decide {undecided} line(s) in time; they are not shown")
    return 0


def _write_json(session, out) -> None:
    import json

    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for line in session:
        out.write(dumps(line.as_json()) + "\n")


def _write_text(session, out, *, timestamps: bool) -> None:
    coloured = is_terminal(out) and not os.environ.get("NO_COLOR")
    width = max(len(name) for name in session.services)
    prefixes = {name: _prefix(name, width, n, coloured) for n, name in enumerate(session.services)}
    write = out.write
    if timestamps:
        for line in session:
            write(f"{line.stamp} {prefixes[line.service]}{line.text}\n")
    else:
        for line in session:
            write(f"{prefixes[line.service]}{line.text}\n")


def _prefix(service: str, width: int, n: int, coloured: bool) -> str:
    text = service.ljust(width)
    if coloured:
        text = click.style(text, fg=_COLOURS[n % len(_COLOURS)])
    return f"{text} | "
