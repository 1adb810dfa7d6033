"""PromQL text built from values nobody checked: string literals, label matchers, and filled-in queries.

An analysis query names the release it measures with placeholders:
``{service}``, ``{version}`` (the release's version, else its commit sha),
``{sha}``, ``{project}`` and ``{environment}``. ``fill_query`` puts each
value in so that it can only ever be a string's content:

- inside a quoted string (``service="{service}"``) the value is escaped for
  that string; inside a regex matcher's string (``version=~"{version}"``)
  its regex metacharacters are escaped first, so ``1.2`` does not match
  ``1x2``;
- outside any string (``label_replace(x, "v", {version}, "", "")``) it
  becomes a double-quoted string literal;
- inside a raw (backtick) string, which has no escapes, a placeholder is
  refused when the query is read; comments are left alone.

So a version such as ``1" or vector(1) or "`` stays a (strange) label value
and never becomes query structure. ``check_query`` finds the problems
before a rollout starts: an unknown placeholder, one in a raw string, an
unterminated string.
"""

from __future__ import annotations

import re
from typing import Iterator, Mapping

PLACEHOLDERS = ("service", "version", "sha", "project", "environment")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_REGEX_SPECIAL = set("\\.+*?()|[]{}^$")
_SIMPLE_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class QueryError(ValueError):
    """A query that cannot be filled in safely."""


def escape(value: str, quote: str = '"') -> str:
    """``value`` as the content of a PromQL string quoted with ``quote`` (Go's escapes)."""
    out = []
    for char in value:
        if char in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[char])
        elif char == quote:
            out.append("\\" + char)
        elif ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F or char in "\u2028\u2029":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def quote(value: str) -> str:
    """``value`` as a double-quoted PromQL string literal."""
    return f'"{escape(value)}"'


def regex_escape(value: str) -> str:
    """``value`` as an RE2 pattern that matches exactly it (only punctuation is escaped: RE2 refuses ``\\ ``)."""
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in value)


def matcher(name: str, value: str) -> str:
    """A label matcher ``name="value"`` (``name`` must already be a valid label name)."""
    return f"{name}={quote(value)}"


def _segments(query: str) -> Iterator[tuple[str, str]]:
    """(kind, text) pieces of ``query``: "code", "comment", or a string with its quotes ('"', "'", "`")."""
    i, start, n = 0, 0, len(query)
    while i < n:
        char = query[i]
        if char in "\"'`":
            if start < i:
                yield "code", query[start:i]
            j = i + 1
            while j < n and query[j] != char:
                j += 2 if char != "`" and query[j] == "\\" else 1
            if j >= n:
                raise QueryError(f"an unterminated {char} string")
            yield char, query[i:j + 1]
            i = start = j + 1
        elif char == "#":
            if start < i:
                yield "code", query[start:i]
            j = query.find("\n", i)
            j = n if j < 0 else j
            yield "comment", query[i:j]
            i = start = j
        else:
            i += 1
    if start < n:
        yield "code", query[start:]


def _string_pieces(content: str) -> Iterator[tuple[bool, str]]:
    """(is_placeholder, text) pieces of a quoted string's content; an escape such as ``\\{`` is never one."""
    i, start, n = 0, 0, len(content)
    while i < n:
        if content[i] == "\\":
            i += 2
            continue
        match = _PLACEHOLDER.match(content, i) if content[i] == "{" else None
        if match and match.group(1) in PLACEHOLDERS:
            if start < i:
                yield False, content[start:i]
            yield True, match.group(1)
            i = start = match.end()
        else:
            i += 1
    if start < n:
        yield False, content[start:]


def check_query(query: str) -> tuple[str, ...]:
    """The placeholders ``query`` uses; ``QueryError`` when it could not be filled in safely."""
    used = []
    for kind, text in _segments(query):
        if kind == "code":
            for match in _PLACEHOLDER.finditer(text):
                if match.group(1) not in PLACEHOLDERS:
                    raise QueryError(f"unknown placeholder {{{match.group(1)}}} (known: "
                                     f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
                used.append(match.group(1))
        elif kind == "`":
            for match in _PLACEHOLDER.finditer(text):
                if match.group(1) in PLACEHOLDERS:
                    raise QueryError(f"{{{match.group(1)}}} inside a `raw` string cannot be escaped: "
                                     "use \"...\" there")
        elif kind in "\"'":
            used.extend(name for is_placeholder, name in _string_pieces(text[1:-1]) if is_placeholder)
    return tuple(dict.fromkeys(used))


def fill_query(query: str, values: Mapping[str, str]) -> str:
    """``query`` with every placeholder replaced by its value, as string content only."""
    check_query(query)
    out = []
    previous = ""
    for kind, text in _segments(query):
        if kind == "code":
            out.append(_PLACEHOLDER.sub(lambda m: quote(values[m.group(1)]), text))
            previous = text
            continue
        if kind in "\"'":
            is_regex = previous.rstrip().endswith(("=~", "!~"))
            inner = "".join(escape(regex_escape(values[piece]) if is_regex else values[piece], kind)
                            if is_placeholder else piece for is_placeholder, piece in _string_pieces(text[1:-1]))
            text = kind + inner + kind
        out.append(text)
        if kind != "comment":
            previous = ""
    return "".join(out)
