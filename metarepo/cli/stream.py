"""``--stream``: every project's lines as they come, prefixed with its name, written in batches.

A line is written whole (the runner hands over runs of whole lines only), so
two projects' halves never mix. Writes are batched: what is waiting is
flushed when a child's pipe goes idle (it printed everything it had, so a
person watching sees it now) or when 64 KiB are waiting, not once per line:
200 MB of short lines is a few seconds, not twenty minutes.
"""

from __future__ import annotations

import threading
from typing import BinaryIO

_BATCH = 1 << 16


class PrefixedStream:
    def __init__(self, out: BinaryIO, prefixes: dict[str, bytes]) -> None:
        self._out = out
        self._prefixes = prefixes  # project name -> its prefix, padded and coloured
        self._pending = bytearray()
        self._lock = threading.Lock()

    def write(self, name: str, lines: bytes, idle: bool) -> None:
        """``lines``: whole lines of one project, each ending in a newline."""
        prefix = self._prefixes[name]
        text = prefix + lines[:-1].replace(b"\n", b"\n" + prefix) + b"\n"
        with self._lock:
            self._pending += text
            if idle or len(self._pending) >= _BATCH:
                self._flush()

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._out.write(self._pending)
            self._pending.clear()
        self._out.flush()
