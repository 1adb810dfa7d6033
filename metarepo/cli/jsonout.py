"""One JSON document on stdout: compact for programs, indented for a person at a terminal.

A document may hold ``Streamed`` strings (a command's output, read from its
temporary file chunk by chunk): they are written as they are read, so a run
whose projects printed gigabytes needs no more memory than one chunk.
"""

from __future__ import annotations

import codecs
import json
from typing import IO, Any, Callable, Iterable


class Streamed:
    """A string value written from ``chunks`` of UTF-8 bytes (bad bytes replaced); ``close`` runs after."""

    def __init__(self, chunks: Iterable[bytes], close: Callable[[], None] | None = None) -> None:
        self.chunks = chunks
        self.close = close


def dumps(value: Any, pretty: bool) -> str:
    """The whole document as one string (no ``Streamed`` values)."""
    return json.dumps(value, indent=2 if pretty else None, separators=None if pretty else (",", ":"),
                      ensure_ascii=False, default=str)


def write(out: IO[str], value: Any, pretty: bool) -> None:
    """Write ``value``, streaming its ``Streamed`` strings, then a newline."""
    _write(out, value, pretty, 0)
    out.write("\n")


def _write(out: IO[str], value: Any, pretty: bool, level: int) -> None:
    if isinstance(value, Streamed):
        _write_streamed(out, value)
        return
    if not isinstance(value, (dict, list, tuple)) or not value:
        out.write(dumps(value, pretty))
        return
    inner = "\n" + "  " * (level + 1) if pretty else ""
    closing = "\n" + "  " * level if pretty else ""
    if isinstance(value, dict):
        out.write("{")
        for n, (key, item) in enumerate(value.items()):
            out.write(("," if n else "") + inner + json.dumps(str(key), ensure_ascii=False) + (": " if pretty else ":"))
            _write(out, item, pretty, level + 1)
        out.write(closing + "}")
    else:
        out.write("[")
        for n, item in enumerate(value):
            out.write(("," if n else "") + inner)
            _write(out, item, pretty, level + 1)
        out.write(closing + "]")


def _write_streamed(out: IO[str], value: Streamed) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    out.write('"')
    try:
        for chunk in value.chunks:
            out.write(json.dumps(decoder.decode(chunk), ensure_ascii=False)[1:-1])
        out.write(json.dumps(decoder.decode(b"", final=True), ensure_ascii=False)[1:-1])
    finally:
        if value.close is not None:
            value.close()
    out.write('"')
