"""``meta graph``: who publishes and who consumes each message, as text, JSON, DOT, Mermaid or HTML."""

from __future__ import annotations

from pathlib import Path

import click

from metarepo.cli.app import application
from metarepo.cli.common import select, selection_options


@click.command()
@selection_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "dot", "mermaid", "html"]), default="text",
              show_default=True, help="html is one self-contained page with an SVG picture.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE, not stdout.")
@click.option("--affected-by", metavar="SERVICE",
              help="Only the services a change to SERVICE can reach downstream (dot, mermaid, html: that part of the graph).")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Run the compatibility check and mark breaking edges (red in dot, mermaid and html).")
@click.pass_context
def graph(ctx: click.Context, fmt: str, output: Path | None, affected_by: str | None, check: bool, **kwargs) -> int:
    """The message-contract graph of the fleet: services, messages, and breaking edges."""
    from metarepo.contracts import graph as forms
    from metarepo.contracts.cache import contracts_cache
    from metarepo.contracts.fleet import load_fleet, no_gc_pauses, pair_matrix
    from metarepo.manifest import write_atomic

    app = application(ctx)
    manifest, projects = select(ctx, kwargs)
    kwargs.pop("jobs", None)
    reach_only = affected_by is not None and fmt in ("text", "json")  # a list of services: no edges to mark
    with contracts_cache(manifest) as cache, no_gc_pauses():
        contracts, notes = load_fleet(projects, cache=cache)
        pairs = pair_matrix(contracts).pairs if check and not reach_only else ()
    built = forms.build_graph(contracts, pairs)
    if affected_by is not None and fmt in ("dot", "mermaid", "html"):  # the picture of just that part
        built = forms.downstream(built, manifest.project(affected_by).name)
        pairs = [p for p in pairs if forms.service_node(p.consumer) in built and forms.service_node(p.producer) in built]
    if reach_only:
        start = manifest.project(affected_by).name
        reached = forms.affected_by(built, start)
        if fmt == "json":
            text = _json({"service": start, "affected": reached}, app, output)
        else:
            text = "\n".join(reached) if reached else f"nothing downstream of {start}"
    elif fmt == "json":
        text = _json(forms.to_json(built), app, output)
    else:
        text = forms.to_html(built, pairs) if fmt == "html" else {
            "text": forms.to_text, "dot": forms.to_dot, "mermaid": forms.to_mermaid}[fmt](built)
    for note in notes:
        app.note(note)
    if output is not None:
        from metarepo.errors import UsageError

        if not output.parent.resolve().is_dir():
            raise UsageError(f"-o {output}: the folder {output.parent} does not exist")
        try:  # a temp file renamed into place: nothing half-written
            write_atomic(output, text if text.endswith("\n") else text + "\n")
        except OSError as exc:
            raise UsageError(f"-o {output}: cannot write it ({exc.strerror or exc})") from None
        app.echo(f"wrote {output}", err=True)
    else:
        app.echo(text)
    return 0


def _json(document, app, output: Path | None) -> str:
    """Indented into a file or at a terminal, compact into a pipe, as every --json is."""
    from metarepo.cli import jsonout

    return jsonout.dumps(document, output is not None or app.pretty_json)
