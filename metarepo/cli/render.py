"""Rendering for people: colour, tables, a progress bar, summary lines.

rich is imported only by the progress bar; tables and lines are plain text
with ANSI colour when stdout/stderr is a terminal, which keeps `meta status`
over 2,000 projects fast. What is written goes through ``cli.app.Application``;
``style``, ``table``, ``summary_line``, ``exit_status`` and ``failures_block``
here are thin wrappers around it for the commands not converted yet.
"""

from __future__ import annotations

import sys
import unicodedata
from typing import TYPE_CHECKING, Iterable, Sequence

import click

if TYPE_CHECKING:
    from metarepo.runner import Run


def is_terminal(stream) -> bool:
    """``stream.isatty()``, asked once per stream (it is a system call, and a run over 2,000
    projects would ask it thousands of times)."""
    entry = _terminal.get(id(stream))
    if entry is None or entry[0] is not stream:  # the entry keeps its stream alive: ids are not reused
        entry = _terminal[id(stream)] = (stream, stream.isatty())
    return entry[1]


_terminal: dict[int, tuple[object, bool]] = {}


def style(text: str, *, fg: str | None = None, bold: bool = False, dim: bool = False, err: bool = False) -> str:
    """``Application.style`` (these module functions are kept for the modules not converted yet)."""
    from metarepo.cli.app import application

    return application().style(text, fg=fg, bold=bold, dim=dim, err=err)


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
    """``Application.table_text``: a plain aligned table; ``colours`` gives an fg colour per cell (or None)."""
    from metarepo.cli.app import application

    return application().table_text(headers, rows, colours)


def summary_line(verb: str, run: Run, *, ok_word: str = "ok") -> str:
    """``Application.summary_text``: ``exec: 12 ok, 1 failed (billing), 2 skipped · 0.84s`` (on stderr)."""
    from metarepo.cli.app import application

    return application().summary_text(verb, run, ok_word=ok_word)


def exit_status(run: Run) -> int:
    from metarepo.cli.app import Application

    return Application.exit_status(run)


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
    """``Application.failure_lines``: one line per project that did not succeed, for the end of a run."""
    from metarepo.cli.app import application

    return application().failure_lines(run)
