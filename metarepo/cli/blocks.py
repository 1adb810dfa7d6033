"""Grouped output: one block per project, whole, with a header saying how it ended.

By default a block is printed the moment its project ends. With ``--ordered``
blocks come in manifest order instead, each as soon as every block before it
is printed; a block that ends early waits in memory up to 16 MiB in all, and
in one temporary file past that, so memory stays bounded however many wait.
"""

from __future__ import annotations

import io
import tempfile
from typing import IO, BinaryIO, Hashable, Sequence

from metarepo.cli.app import Application
from metarepo.runner import Outcome, State

_WAITING_IN_MEMORY = 16 << 20


def write_block(app: Application, sink: IO[bytes], outcome: Outcome) -> None:
    """Write one project's block to ``sink``; its output is freed afterwards."""
    result = outcome.value
    seconds = f"{outcome.seconds:.2f}s"
    if outcome.state is State.DONE:
        mark = app.style("✓", fg="green")
        detail = app.style(seconds, dim=True)
    elif outcome.state is State.SKIPPED:
        mark = app.style("-", fg="yellow")
        detail = app.style(f"skipped: {outcome.reason}", fg="yellow")
    else:
        mark = app.style("✗", fg="red")
        detail = app.style(f"{outcome.reason} · {seconds}", fg="red")
    sink.write(f"{mark} {app.style(str(outcome.key), bold=True)} {detail}\n".encode())
    if result is not None:
        last = b""
        for chunk in result.output.chunks():
            sink.write(chunk)
            last = chunk
        if last and not last.endswith(b"\n"):
            sink.write(b"\n")
        result.output.close()


def print_block(app: Application, out: BinaryIO, outcome: Outcome) -> None:
    write_block(app, out, outcome)
    out.flush()


class OrderedBlocks:
    """Blocks in the order of ``keys``, each printed once every block before it is."""

    def __init__(self, app: Application, out: BinaryIO, keys: Sequence[Hashable]) -> None:
        self._app = app
        self._out = out
        self._index = {key: n for n, key in enumerate(keys)}
        self._next = 0
        self._held: dict[int, bytes | tuple[int, int]] = {}  # its bytes, or (offset, size) in the spill file
        self._in_memory = 0
        self._spill: IO[bytes] | None = None

    def add(self, outcome: Outcome) -> None:
        n = self._index[outcome.key]
        if n != self._next:
            self._hold(n, outcome)
            return
        print_block(self._app, self._out, outcome)
        self._next += 1
        while self._next in self._held:
            self._print_held(self._next)
            self._next += 1

    def finish(self) -> None:
        """Print what still waits (behind a project that never ended: Ctrl-C), in order."""
        for n in sorted(self._held):
            self._print_held(n)
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    def _hold(self, n: int, outcome: Outcome) -> None:
        size = outcome.value.output.size if outcome.value is not None else 0
        if self._in_memory + size <= _WAITING_IN_MEMORY:
            block = io.BytesIO()
            write_block(self._app, block, outcome)
            self._held[n] = block.getvalue()
            self._in_memory += len(self._held[n])
            return
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="meta-ordered-")
        start = self._spill.seek(0, io.SEEK_END)
        write_block(self._app, self._spill, outcome)
        self._held[n] = (start, self._spill.tell() - start)

    def _print_held(self, n: int) -> None:
        held = self._held.pop(n)
        if isinstance(held, bytes):
            self._out.write(held)
            self._in_memory -= len(held)
        else:
            assert self._spill is not None
            start, size = held
            self._spill.seek(start)
            while size:
                chunk = self._spill.read(min(size, 1 << 16))
                self._out.write(chunk)
                size -= len(chunk)
        self._out.flush()
