"""``--grep RE``: keep the lines a regular expression finds something in, in bounded time per line.

The pattern runs on the ``regex`` engine (as contract patterns do, see
``contracts/bounds.py``): one that repeats too much to compile is refused
up front, and a line it cannot decide within ``LINE_SECONDS`` is left out
and counted, so a pathological pattern costs a bounded time per line and
the command says how many lines it could not decide, never hangs.
"""

from __future__ import annotations

from typing import Any

from metarepo.errors import UsageError

LINE_SECONDS = 0.05


class LineFilter:
    def __init__(self, pattern: str) -> None:
        from metarepo.contracts.bounds import Undecidable, compile_pattern

        try:
            self._compiled: Any = compile_pattern(pattern)
        except ValueError as exc:
            raise UsageError(f"--grep: {exc}") from None
        except Undecidable as exc:
            raise UsageError(f"--grep: {exc.reason}") from None
        self.pattern = pattern
        self.undecided = 0  # lines the pattern could not decide within LINE_SECONDS

    def __call__(self, text: str) -> bool:
        try:
            return self._compiled.search(text, timeout=LINE_SECONDS) is not None
        except TimeoutError:
            self.undecided += 1
            return False
