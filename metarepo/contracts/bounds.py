"""The limits on work that the input drives, and the one way to say a limit was reached.

Contract files are other people's input, so every cost they control is
bounded: the bytes read from a file, the nodes a document expands to (YAML
aliases, ``$ref``s inlined many times), the size of an example message,
and the time regular expressions may take. Regular expressions from schemas
run on the ``regex`` engine with a timeout; past it, or past the time budget
of one verdict, ``Undecidable`` is raised and the comparison answers
"could not decide within the limit", never a hang or a MemoryError.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Iterator

MAX_FILE_BYTES = 8 * 1024 * 1024  # one contract or schema file
MAX_NODES = 200_000  # a document or one resolved schema, with every alias and $ref expanded
MAX_EXAMPLE_CHARS = 64 * 1024  # an example message, as JSON
MAX_REPEAT = 256  # a quantifier or minItems repeated to build an example
REGEX_SECONDS = 0.25  # one regular expression against one string
PATTERN_WEIGHT = 20_000  # the size of a compiled pattern (counted repeats multiplied out)
VERDICT_SECONDS = 2.0  # all the regular expressions of one verdict (rules, then again for its example)

_deadline: ContextVar[float | None] = ContextVar("metarepo_contracts_deadline", default=None)


class Undecidable(Exception):
    """A bound was reached before the answer was known."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@contextmanager
def time_budget(seconds: float = VERDICT_SECONDS) -> Iterator[None]:
    """Regular expressions run inside share ``seconds`` in all."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> Any:
    import regex

    return regex.compile(pattern)


def pattern_weight(pattern: str) -> int:
    """About how many steps the compiled pattern has: counted repeats (``{n,m}``) multiply what they repeat,
    nested ones too (``(a{1000}){1000}`` is a million), which is what compiling it costs."""
    stack = [[0, 0]]  # per open group: [its weight so far, the weight of its last item]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        item = 1
        if ch == "\\":
            i += 2
        elif ch == "[":
            j = i + 1
            if pattern[j:j + 1] == "^":
                j += 1
            if pattern[j:j + 1] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
        elif ch == "(":
            stack.append([0, 0])
            i += 1
            continue
        elif ch == ")" and len(stack) > 1:
            item = stack.pop()[0]
            i += 1
        elif ch == "{" and (close := pattern.find("}", i)) > i:
            low, _, high = pattern[i + 1:close].partition(",")
            if low.strip().isdigit() or high.strip().isdigit():
                count = max(int(n) for n in (low.strip() or "0", high.strip() or "0") if n.isdigit())
                group = stack[-1]
                group[0] += group[1] * (max(count, 1) - 1)
                group[1] *= max(count, 1)
                i = close + 1
                if group[0] > 10 * PATTERN_WEIGHT:
                    return group[0]
                continue
            i += 1
        else:
            i += 1
        stack[-1][0] += item
        stack[-1][1] = item
    return sum(group[0] for group in stack)


def compile_pattern(pattern: str) -> Any:
    """The pattern on the bounded engine; ``ValueError`` when it is not a regular expression,
    ``Undecidable`` when it repeats too much to compile in bounded time."""
    import regex

    if "{" in pattern and pattern_weight(pattern) > PATTERN_WEIGHT:
        raise Undecidable(f"the pattern {_short(pattern)} repeats too much to run")
    try:
        return _compiled(pattern)
    except (regex.error, TypeError, OverflowError, RecursionError) as exc:
        raise ValueError(f"not a regular expression: {pattern!r} ({exc})") from None


def search(pattern: str, text: str) -> bool:
    """``re.search(pattern, text)``, in bounded time: ``Undecidable`` past the limit, ``ValueError`` if invalid."""
    compiled = compile_pattern(pattern)
    limit = REGEX_SECONDS
    deadline = _deadline.get()
    if deadline is not None:
        limit = min(limit, deadline - time.monotonic())
        if limit <= 0:
            raise Undecidable("the regular expressions of this comparison ran out of time")
    try:
        return compiled.search(text, timeout=limit) is not None
    except TimeoutError:
        raise Undecidable(f"the pattern {_short(pattern)} took too long against a {len(text)}-character "
                          "string") from None


def _short(pattern: str) -> str:
    return repr(pattern if len(pattern) <= 40 else pattern[:37] + "...")


def expanded_size(node: Any, limit: int = MAX_NODES) -> int:
    """How many values ``node`` has with every shared part (YAML alias, inlined ``$ref``) counted each time
    it appears; stops counting past ``limit``. Linear in the distinct values, whatever the expansion."""
    sizes: dict[int, int] = {}
    keep: list[Any] = []  # ids stay valid while we look
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        item, done = stack.pop()
        if not isinstance(item, (dict, list)):
            continue
        key = id(item)
        if key in sizes and not done:
            continue
        children = list(item.values()) if isinstance(item, dict) else item
        if not done:
            sizes[key] = -1  # in progress: a cycle counts once
            keep.append(item)
            stack.append((item, True))
            stack.extend((child, False) for child in children if isinstance(child, (dict, list))
                         and id(child) not in sizes)
            continue
        total = 1 + len(children)
        for child in children:
            if isinstance(child, (dict, list)):
                total += max(sizes.get(id(child), 0) - 1, 0)
            if total > limit:
                break
        sizes[key] = min(total, limit + 1)
    return sizes.get(id(node), 1) if isinstance(node, (dict, list)) else 1
