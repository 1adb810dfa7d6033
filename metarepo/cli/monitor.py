"""``meta monitor render ENV -o DIR``: Prometheus' scrape config, targets and alerting rules, from the manifest."""

from __future__ import annotations

from pathlib import Path

import click

from metarepo.cli.app import application
from metarepo.cli.common import json_option, manifest_from


@click.group()
def monitor() -> None:
    """Prometheus targets and alerting rules from the manifest."""


@monitor.command("render")
@click.argument("env")
@click.option("-o", "--output", "directory", required=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Write prometheus.yml, targets/ and rules/ here.")
@json_option
@click.pass_context
def render(ctx: click.Context, env: str, directory: Path, as_json: bool) -> int:
    """Write ENV's Prometheus config, file_sd targets and SLO alerting rules into DIR.

    Every deployed project with a `metrics` setting is scraped; its `slo`
    becomes error-budget burn-rate and latency alerts. The files are checked
    with promtool first (when installed): if it rejects them, nothing is
    written. Files of services no longer in .meta are removed; files this
    command did not write are never touched.
    """
    from metarepo.monitor.render import FileState, render_monitoring, write_monitoring

    app = application(ctx)
    result = write_monitoring(render_monitoring(manifest_from(ctx), env), directory)
    if as_json:
        app.json(result.as_json())
        return 0
    colours = {FileState.WRITTEN: "green", FileState.REMOVED: "red", FileState.UNCHANGED: None}
    for file in result.files:
        if file.state is not FileState.UNCHANGED:
            app.echo(f"{app.style(file.state.value, fg=colours[file.state])} {directory / file.path}")
    for name, why in result.rendering.skipped.items():
        app.skipped(name, why)
    for note in result.rendering.notes:
        app.note(note)
    rendering = result.rendering
    with_rules = sum(1 for w in rendering.services if w.slo is not None)
    checked = f"checked by {result.validated}" if result.validated else "not checked (promtool is not installed)"
    unchanged = sum(1 for f in result.files if f.state is FileState.UNCHANGED)
    app.echo(f"monitor render {env}: {len(rendering.services)} service(s) scraped, {with_rules} with SLO rules"
             f"{f', {unchanged} file(s) unchanged' if unchanged else ''} · {checked}", err=True)
    return 0
