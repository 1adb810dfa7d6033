"""The one object through which ``cli/`` writes: lines, marks, notes, tables, summaries, JSON.

hatch's ``Application`` is the model: the root command makes one and keeps it
as the context object, and each command asks it to show things instead of
calling ``click.echo`` with its own colours. So "skipped", "failed", a note,
the summary line and the JSON document look the same in every command, and
``--json`` (``json_option``) turns the person-facing extras off in one place.

Conventions: a command's results go to stdout; notes, skips and failures
that explain a run, and the summary line, go to stderr. Colour only when the
stream is a terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence, TextIO

import click

from metarepo.cli.render import is_terminal, width
from metarepo.report import NULL, Reporter

if TYPE_CHECKING:  # the runner (and subprocess) load with the first command that runs, not for --help
    from metarepo.runner import Run


class Application:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root  # -C DIR
        self.as_json = False  # set by --json: no progress bar, one document on stdout

    def get(self, key: str, default: Any = None) -> Any:
        """``ctx.obj.get("root")``, for modules that still read the context object as the old dict."""
        return getattr(self, key, default)

    # -- streams and colour --------------------------------------------------

    @staticmethod
    def stream(err: bool = False) -> TextIO:
        return sys.stderr if err else sys.stdout

    def style(self, text: str, *, fg: str | None = None, bold: bool = False, dim: bool = False,
              err: bool = False) -> str:
        if not is_terminal(self.stream(err)):
            return text
        return click.style(text, fg=fg, bold=bold, dim=dim)

    # -- lines -----------------------------------------------------------------

    def echo(self, text: str = "", *, err: bool = False, nl: bool = True) -> None:
        click.echo(text, err=err, nl=nl)

    def error(self, message: str) -> None:
        """The error boundary's one line."""
        click.echo(f"meta: {message}", err=True)

    def info(self, message: str) -> None:
        """Why a command did nothing, or what to do next: ``meta: ...`` on stderr."""
        click.echo(f"meta: {message}", err=True)

    def note(self, message: str) -> None:
        click.echo(self.style(f"note: {message}", fg="yellow", err=True), err=True)

    def done(self, key: str, detail: str = "", *, err: bool = False) -> None:
        self.echo(f"{self.style('✓', fg='green', err=err)} {key}" + (f": {detail}" if detail else ""), err=err)

    def skipped(self, key: str, why: str, *, err: bool = True) -> None:
        self.echo(self.style(f"- {key}: skipped, {why}", fg="yellow", err=err), err=err)

    def failed(self, key: str, why: str, *, err: bool = True) -> None:
        self.echo(self.style(f"✗ {key}: {why}", fg="red", err=err), err=err)

    def outcomes(self, run: Run, describe: Callable[[Any], str]) -> None:
        """One line per item, in input order, on stdout: what was done, skipped or failed."""
        from metarepo.runner import State

        for o in run.outcomes:
            if o.state is State.DONE:
                self.done(str(o.key), describe(o.value))
            elif o.state is State.SKIPPED:
                self.skipped(str(o.key), o.reason, err=False)
            else:
                self.failed(str(o.key), o.reason, err=False)

    def failures(self, run: Run) -> None:
        """On stderr, one line per item that did not succeed."""
        for line in self.failure_lines(run):
            self.echo(line, err=True)

    def failure_lines(self, run: Run) -> list[str]:
        from metarepo.runner import State

        lines = []
        for o in run.outcomes:
            if o.state is State.FAILED:
                lines.append(self.style(f"✗ {o.key}: {o.reason}", fg="red", err=True))
            elif o.state is State.SKIPPED:
                lines.append(self.style(f"- {o.key}: skipped, {o.reason}", fg="yellow", err=True))
        return lines

    # -- summaries and tables --------------------------------------------------

    def summary(self, verb: str, run: Run, *, ok_word: str = "ok") -> None:
        self.echo(self.summary_text(verb, run, ok_word=ok_word), err=True)

    def summary_text(self, verb: str, run: Run, *, ok_word: str = "ok") -> str:
        """``exec: 12 ok, 1 failed (billing), 2 skipped · 0.84s`` (styled for stderr)."""
        from metarepo.runner import State

        counts: dict[State, list[str]] = {state: [] for state in State}
        for o in run.outcomes:
            counts[o.state].append(str(o.key))
        parts = [self.style(f"{len(counts[State.DONE])} {ok_word}", fg="green", err=True)]
        for state, colour in ((State.FAILED, "red"), (State.SKIPPED, "yellow"), (State.INTERRUPTED, "red")):
            names = counts[state]
            if names:
                shown = ", ".join(names[:5]) + (f", +{len(names) - 5} more" if len(names) > 5 else "")
                parts.append(self.style(f"{len(names)} {state} ({shown})", fg=colour, err=True))
        head = f"{verb}: " if verb else ""
        tail = " - interrupted" if run.interrupted else ""
        return f"{head}{', '.join(parts)} · {run.seconds:.2f}s{tail}"

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[str]],
              colours: Iterable[Sequence[str | None]] = ()) -> None:
        self.echo(self.table_text(headers, rows, colours))

    def table_text(self, headers: Sequence[str], rows: Iterable[Sequence[str]],
                   colours: Iterable[Sequence[str | None]] = ()) -> str:
        """A plain aligned table; ``colours`` gives an fg colour per cell (or None)."""
        rows = [list(r) for r in rows]
        colours = list(colours)
        widths = [max([width(h)] + [width(r[i]) for r in rows]) for i, h in enumerate(headers)]
        lines = ["  ".join(self.style(h.ljust(widths[i]), bold=True) for i, h in enumerate(headers)).rstrip()]
        coloured = is_terminal(self.stream())
        for n, row in enumerate(rows):
            cells = []
            for i, cell in enumerate(row):
                padded = cell + " " * (widths[i] - width(cell))
                fg = colours[n][i] if coloured and n < len(colours) else None
                cells.append(click.style(padded, fg=fg) if fg else padded)
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)

    # -- JSON and progress -------------------------------------------------------

    def json(self, document: Any, *, streamed: bool = False) -> None:
        """One JSON document on stdout: compact for programs, indented for a person at a terminal.

        (Compact is also what keeps ``json`` on its C encoder; indenting takes the
        pure-Python one, about six times slower on a fleet-sized document.) With
        ``streamed``, ``jsonout.Streamed`` values are written from disk as they are read."""
        from metarepo.cli import jsonout

        if streamed:
            jsonout.write(sys.stdout, document, self.pretty_json)
        else:
            sys.stdout.write(jsonout.dumps(document, self.pretty_json) + "\n")
        sys.stdout.flush()

    @property
    def pretty_json(self) -> bool:
        return is_terminal(sys.stdout)

    def reporter(self, label: str) -> Reporter:
        """A progress bar on stderr for a person; nothing under --json."""
        if self.as_json:
            return NULL
        from metarepo.cli.render import ProgressReporter

        return ProgressReporter(label)

    @staticmethod
    def exit_status(run: Run) -> int:
        from metarepo.runner import State

        if run.interrupted:
            return 130
        return 0 if all(o.state in (State.DONE, State.SKIPPED) for o in run.outcomes) else 1


_DEFAULT = Application()


def application(ctx: click.Context | None = None) -> Application:
    """The running command's Application (the root command makes it); a default outside a command."""
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None:
        return _DEFAULT
    found = ctx.find_object(Application)
    if found is None:  # a command invoked without our root command (a test's CliRunner, say)
        found = ctx.find_root().ensure_object(Application)
    return found
