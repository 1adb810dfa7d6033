"""``meta doctor``: the fleet scorecard, as a table, JSON, or an HTML page."""

from __future__ import annotations

from pathlib import Path

import click

from metarepo.cli.app import Application, application
from metarepo.cli.common import jobs_from, json_option, select, selection_options

_MARK = {"pass": ("✓", "green"), "fail": ("✗", "red"), "n/a": ("·", None)}


@click.command()
@selection_options
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the scorecard as one self-contained HTML page.")
@click.option("--min-score", type=click.IntRange(0, 100), metavar="N",
              help="Exit 1 when a repository scores under N (0-100); one not cloned has no score and is under.")
@json_option
@click.pass_context
def doctor(ctx: click.Context, html_file: Path | None, min_score: int | None, as_json: bool, **kwargs) -> int:
    """Which repositories follow the architecture: every check, and what to do about each failure.

    Checks, by group: containerised (a Dockerfile, a HEALTHCHECK, pinned
    bases, not root), delivery (the pipeline in step with the templates),
    contracts (declared, loading, nothing breaking), proxy (a route, no port
    published past it), monitoring (metrics, SLOs), logging (stdout, shipped),
    messaging (every consumed message has a producer, a broker), meta (tags,
    default branch), and the meta repo's own (metarepo.doctor.checks in .meta).
    A score is the passing share of the checks that apply.
    """
    from metarepo.doctor.scorecard import run_doctor

    app = application(ctx)
    manifest, projects = select(ctx, kwargs)
    scorecard = run_doctor(manifest, projects, jobs=jobs_from(kwargs), reporter=app.reporter("doctor"))
    if html_file is not None:  # written before anything is shown: a file that cannot be written is the error
        _write_html(manifest, scorecard, html_file, min_score)
    under = scorecard.under(min_score) if min_score is not None else []
    if as_json:
        document = scorecard.as_json()
        document["min_score"] = min_score
        document["under"] = [c.project for c in under]
        app.json(document)
    else:
        _table(app, scorecard)
        _failures(app, scorecard)
        for note in scorecard.notes:
            app.note(note)
        _summary(app, scorecard, min_score, under)
    if html_file is not None:
        from metarepo.errors import printable

        app.info(f"wrote {printable(str(html_file))}")
    return 1 if under else 0


def _table(app: Application, scorecard) -> None:
    groups = scorecard.groups
    headers = ["PROJECT", "SCORE", *(group.upper() for group, _ in groups)]
    rows, colours = [], []
    for card in scorecard.cards:
        by_id = {r.check: r for r in card.results}
        row = [card.project, "-" if card.score is None else f"{card.score}%"]
        colour = [None, _score_colour(card.score)]
        for _, checks in groups:
            states = [by_id[c.id].state.value for c in checks]
            row.append("".join(_MARK[s][0] for s in states))
            colour.append("red" if "fail" in states else "green" if "pass" in states else None)
        rows.append(row)
        colours.append(colour)
    app.table(headers, rows, colours)


def _score_colour(score: int | None) -> str | None:
    if score is None:
        return "yellow"
    return "green" if score >= 80 else "yellow" if score >= 50 else "red"


def _failures(app: Application, scorecard) -> None:
    """What to do: one line per failing check of each repository; a line that several repositories share
    (the same check failing the same way, such as an environment's setting) once, naming them."""
    from collections import defaultdict

    sharing: dict[tuple[str, str], list[str]] = defaultdict(list)
    for card in scorecard.cards:
        for result in card.failures():
            sharing[(result.check, result.detail)].append(card.project)
    cross = app.style("✗", fg="red")
    lines = []
    for card in scorecard.cards:
        own = [r for r in card.failures() if len(sharing[(r.check, r.detail)]) == 1]
        if own:
            lines += ["", app.style(f"{card.project} ({card.score}%)", bold=True)]
            lines += [f"  {cross} {r.check}: {r.detail}" for r in own]
    shared = [(key, names) for key, names in sharing.items() if len(names) > 1]
    if shared:
        lines += ["", app.style("in several repositories", bold=True)]
        for (check, detail), names in shared:
            who = ", ".join(names[:3]) + (f", +{len(names) - 3} more" if len(names) > 3 else "")
            lines.append(f"  {cross} {check} ({len(names)}: {who}): {detail}")
    if lines:
        app.echo("\n".join(lines))


def _summary(app: Application, scorecard, min_score: int | None, under: list) -> None:
    score = "-" if scorecard.score is None else f"{scorecard.score}%"
    text = (f"doctor: {len(scorecard.cards)} repositories, fleet score {score} ({scorecard.passed} of "
            f"{scorecard.applicable} applicable checks pass; ✓ pass, ✗ fail, · does not apply)")
    if min_score is not None:
        if under:
            shown = ", ".join(f"{c.project} ({'-' if c.score is None else c.score})" for c in under[:5])
            more = f", +{len(under) - 5} more" if len(under) > 5 else ""
            text += app.style(f", {len(under)} under {min_score}: {shown}{more}", fg="red", err=True)
        else:
            text += app.style(f", none under {min_score}", fg="green", err=True)
    app.echo(f"{text} · {scorecard.seconds:.2f}s", err=True)


def _write_html(manifest, scorecard, file: Path, min_score: int | None) -> None:
    from metarepo.doctor.page import render_report
    from metarepo.errors import WorkFailed, printable
    from metarepo.files import write_atomic

    text = render_report(manifest.root, scorecard, f"Fleet scorecard: {manifest.root.name}", min_score)
    try:
        write_atomic(file, text, durable=False)
    except OSError as exc:
        raise WorkFailed(f"{printable(str(file))}: cannot write the report: {exc.strerror or exc}") from None
