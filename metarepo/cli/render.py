"""Rendering for people: colour, tables, a progress bar, summary lines.

rich is imported only by the progress bar; tables and lines are plain text
with ANSI colour when stdout/stderr is a terminal, which keeps `meta status`
over 2,000 projects fast.
"""

from __future__ import annotations

import sys
import unicodedata
from typing import Iterable, Sequence

import click

from metarepo.runner import Run, State


def is_terminal(stream) -> bool:
    """``stream.isatty()``, asked once per stream (it is a system call, and a run over 2,000
    projects would ask it thousands of times)."""
    entry = _terminal.get(id(stream))
    if entry is None or entry[0] is not stream:  # the entry keeps its stream alive: ids are not reused
        entry = _terminal[id(stream)] = (stream, stream.isatty())
    return entry[1]


_terminal: dict[int, tuple[object, bool]] = {}


def style(text: str, *, fg: str | None = None, bold: bool = False, dim: bool = False, err: bool = False) -> str:
    if not is_terminal(sys.stderr if err else sys.stdout):
        return text
    return click.style(text, fg=fg, bold=bold, dim=dim)


def width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def clip(text: str, limit: int) -> str:
    if len(text) <= limit and text.isascii() or width(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > limit - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], colours: Iterable[Sequence[str | None]] = ()) -> str:
    """A plain aligned table; ``colours`` gives an fg colour per cell (or None)."""
    rows = [list(r) for r in rows]
    colours = list(colours)
    widths = [max([width(h)] + [width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(style(h.ljust(widths[i]), bold=True) for i, h in enumerate(headers)).rstrip()]
    coloured = sys.stdout.isatty()
    for n, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            padded = cell + " " * (widths[i] - width(cell))
            fg = colours[n][i] if coloured and n < len(colours) else None
            cells.append(click.style(padded, fg=fg) if fg else padded)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def summary_line(verb: str, run: Run, *, ok_word: str = "ok") -> str:
    """``exec: 12 ok, 1 failed (billing), 2 skipped · 0.84s`` (on stderr)."""
    counts: dict[State, list[str]] = {state: [] for state in State}
    for o in run.outcomes:
        counts[o.state].append(str(o.key))
    parts = [style(f"{len(counts[State.DONE])} {ok_word}", fg="green", err=True)]
    for state, colour in ((State.FAILED, "red"), (State.SKIPPED, "yellow"), (State.INTERRUPTED, "red")):
        names = counts[state]
        if names:
            shown = ", ".join(names[:5]) + (f", +{len(names) - 5} more" if len(names) > 5 else "")
            parts.append(style(f"{len(names)} {state} ({shown})", fg=colour, err=True))
    head = f"{verb}: " if verb else ""
    tail = " - interrupted" if run.interrupted else ""
    return f"{head}{', '.join(parts)} · {run.seconds:.2f}s{tail}"


def exit_status(run: Run) -> int:
    if run.interrupted:
        return 130
    return 0 if all(o.state in (State.DONE, State.SKIPPED) for o in run.outcomes) else 1


class ProgressReporter:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._progress = None
        self._task = None

    def start(self, total: int, label: str) -> None:
        if not sys.stderr.isatty() or total == 0:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn(f"[bold]{self.label}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TextColumn("{task.description}"),
                                  console=Console(stderr=True), transient=True)
        self._progress.start()
        self._task = self._progress.add_task("", total=total)

    def item_started(self, key: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=key)

    def item_done(self, key: str, ok: bool, detail: str = "") -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def note(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(message, highlight=False, markup=False)
        else:
            click.echo(message, err=True)

    def echo(self, line: str) -> None:
        """A line of the command's output: above the bar while it shows, else on stdout."""
        if self._progress is not None:
            self._progress.console.print(line, highlight=False, markup=False)
        else:
            click.echo(line)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def failures_block(run: Run) -> list[str]:
    """One line per project that did not succeed, for the end of a run."""
    lines = []
    for o in run.outcomes:
        if o.state is State.FAILED:
            lines.append(style(f"✗ {o.key}: {o.reason}", fg="red", err=True))
        elif o.state is State.SKIPPED:
            lines.append(style(f"- {o.key}: skipped, {o.reason}", fg="yellow", err=True))
    return lines
