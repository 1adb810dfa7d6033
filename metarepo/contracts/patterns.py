"""Strings that may match a regular expression, for building example messages.

Only simple expressions are understood (literals, classes, groups, the first
alternative, quantifiers); whatever is produced is a guess that the example
generator validates with ``jsonschema`` before it is ever shown.
"""

from __future__ import annotations

import re

from metarepo.contracts.bounds import MAX_REPEAT

def pattern_guesses(pattern: str) -> list[str]:
    """A few strings that may match a regular expression (each one is validated later, never trusted)."""
    guesses = [_sample_regex(pattern, 1), _sample_regex(pattern, 2), _sample_regex(pattern, 0)]
    literal = re.sub(r"\\[dws]|[\^\$\(\)\[\]\{\}\*\+\?\|\\]", "", pattern)
    guesses += [literal, "a" + literal]
    return [g for g in dict.fromkeys(guesses) if isinstance(g, str)][:6]


_CLASS = {"d": "1", "w": "a", "s": " ", "D": "a", "W": "-", "S": "a"}


def _sample_regex(pattern: str, repeat: int) -> str | None:
    """One string for a simple regular expression: first choices, quantifiers repeated ``repeat`` times."""
    out: list[str] = []
    i, depth = 0, 0
    last_start = 0
    try:
        while i < len(pattern):
            ch = pattern[i]
            if ch in "^$":
                i += 1
                continue
            if ch == "|":
                if depth == 0:
                    break  # the first alternative is enough
                close = _group_end(pattern, i)
                i = close
                continue
            if ch == "(":
                depth += 1
                last_start = len(out)
                i += 3 if pattern.startswith("(?:", i) else 1
                continue
            if ch == ")":
                depth -= 1
                i += 1
                piece = "".join(out[last_start:])
                i = _quantify(pattern, i, out, piece, last_start, repeat)
                continue
            start = len(out)
            if ch == "\\" and i + 1 < len(pattern):
                piece = _CLASS.get(pattern[i + 1], pattern[i + 1])
                i += 2
            elif ch == "[":
                end = pattern.index("]", i + 2 if pattern[i + 1:i + 2] == "]" else i + 1)
                body = pattern[i + 1:end]
                piece = _first_of_class(body)
                i = end + 1
            elif ch == ".":
                piece, i = "a", i + 1
            else:
                piece, i = ch, i + 1
            out.append(piece)
            i = _quantify(pattern, i, out, piece, start, repeat)
        return "".join(out)
    except (ValueError, IndexError):
        return None


def _group_end(pattern: str, i: int) -> int:
    depth = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "(":
            depth += 1
        elif pattern[i] == ")":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return i


def _quantify(pattern: str, i: int, out: list[str], piece: str, start: int, repeat: int) -> int:
    if i >= len(pattern):
        return i
    q = pattern[i]
    count = None
    if q in "*?":
        count, i = (repeat if q == "*" else min(repeat, 1)), i + 1
    elif q == "+":
        count, i = max(1, repeat), i + 1
    elif q == "{":
        end = pattern.index("}", i)
        low, _, high = pattern[i + 1:end].partition(",")
        low_n = int(low or 0)
        count = low_n if not high and _ else max(low_n, min(int(high) if high else low_n + repeat, low_n + repeat))
        if not _:
            count = low_n
        i = end + 1
    if i < len(pattern) and pattern[i] in "?+" and count is not None:
        i += 1  # lazy or possessive
    if count is not None:
        del out[start:]
        out.append(piece * min(count, MAX_REPEAT))  # a{1000000000} is a guess that stays small
    return i


def _first_of_class(body: str) -> str:
    if body.startswith("^"):
        for candidate in "a1A-_ ":
            if candidate not in body[1:]:
                return candidate
        return "~"
    if body.startswith("\\") and len(body) > 1:
        return _CLASS.get(body[1], body[1])
    return body[0]
