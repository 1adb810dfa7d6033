"""``meta proxy render ENV`` and ``meta proxy check ENV``: the edge proxy's routes, from the manifest."""

from __future__ import annotations

from pathlib import Path

import click

from metarepo.cli.app import application
from metarepo.cli.common import json_option, manifest_from

_FORMAT = click.option("--format", "format_", type=click.Choice(("haproxy", "nginx", "traefik")),
                       help="The proxy whose configuration to write (default: the environment's proxy).")


@click.group()
def proxy() -> None:
    """The edge proxy's configuration, from every project's route."""


@proxy.command("render")
@click.argument("env")
@_FORMAT
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write it to FILE (atomically) instead of standard output.")
@json_option
@click.pass_context
def render(ctx: click.Context, env: str, format_: str | None, output: Path | None, as_json: bool) -> int:
    """Write ENV's edge configuration: HAProxy, nginx (an http-context file) or Traefik (file provider).

    Each deployed project's `route` becomes a backend reaching its tasks as
    tasks.<service>. The file is checked by the proxy's own checker when it
    is installed (haproxy -c, nginx -t); a refused file is not written.
    """
    from metarepo.proxy.render import render_edge

    app = application(ctx)
    edge = render_edge(manifest_from(ctx), env, format_)
    if output is not None:
        from metarepo.files import write_atomic

        try:
            write_atomic(output, edge.text)
        except OSError as exc:
            raise click.FileError(str(output), exc.strerror) from None
    if as_json:
        app.json({"environment": env, "format": edge.format, "file": str(output) if output else None,
                  "validated_by": edge.validated_by, "routes": [r.as_json() for r in edge.routes],
                  "text": None if output else edge.text})
        return 0
    if output is None:
        app.echo(edge.text, nl=False)
    checked = f"checked by {edge.validated_by}" if edge.validated_by else \
        f"not checked: {edge.format} is not installed here"
    where = f" → {output}" if output else ""
    app.echo(f"proxy render {env}: {edge.format}, {len(edge.routes)} route(s){where}, {checked}", err=True)
    return 0


@proxy.command("check")
@click.argument("env")
@click.option("--against", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Compare with this file (what the proxy was given).")
@click.option("--running", metavar="SOCKET",
              help="Ask a running HAProxy through its runtime API: the stats socket's path or tcp://HOST:PORT "
                   "(default: the environment's proxy stats_socket).")
@_FORMAT
@json_option
@click.pass_context
def check(ctx: click.Context, env: str, against: Path | None, running: str | None, format_: str | None,
          as_json: bool) -> int:
    """Report drift between ENV's routes in the manifest and a file or a running HAProxy (exit 1 on drift)."""
    from metarepo.proxy.check import check_file, check_running

    if against is not None and running is not None:
        raise click.UsageError("give --against FILE or --running SOCKET, not both")
    if running is not None and format_ not in (None, "haproxy"):
        raise click.UsageError("--running asks HAProxy's runtime API: only --format haproxy can be compared "
                               "with a running proxy (compare a file with --against)")
    app = application(ctx)
    manifest = manifest_from(ctx)
    report = check_file(manifest, env, against, format_) if against is not None else \
        check_running(manifest, env, running)
    if as_json:
        app.json(report.as_json())
        return 0 if report.in_sync else 1
    for drift in report.drifts:
        app.failed(drift.service, f"{drift.kind.value}: {drift.detail}", err=False)
    if report.diff:
        app.echo(report.diff, nl=not report.diff.endswith("\n"))
    if report.in_sync:
        app.echo(f"proxy check {env}: {report.against} routes what the manifest says", err=True)
        return 0
    count = len(report.drifts) or "the file"
    app.echo(f"proxy check {env}: {report.against} differs from the manifest ({count}"
             f"{' route(s)' if report.drifts else ''}); `meta proxy render {env}` writes what it should be",
             err=True)
    return 1
