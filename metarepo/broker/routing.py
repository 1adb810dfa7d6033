"""How RabbitMQ routes a key: topic patterns (``*`` one word, ``#`` any number) and direct equality.

A producer's routing key may be a template: an AsyncAPI channel address
with parameters (``user.{userId}.signedup``), one word per parameter whose
value is known only when the message is sent. ``routes(..., every=True)``
asks whether a binding routes the key whatever those words are (only a
wildcard does); ``every=False`` whether it may route some of them (what
makes a queue receive another message's keys).
"""

from __future__ import annotations

import re
from functools import lru_cache

_PARAMETER = re.compile(r"\{[^{}]*\}")


def is_parameter(word: str) -> bool:
    return bool(_PARAMETER.fullmatch(word))


def has_parameters(key: str) -> bool:
    return "{" in key


def template_problem(key: str) -> str | None:
    """Why ``key`` cannot be a producer's routing key, or None."""
    for word in key.split("."):
        if word in ("*", "#"):
            return f"has the word {word!r}, which a topic binding reads as a wildcard"
        if ("{" in word or "}" in word) and not is_parameter(word):
            return f"has the word {word!r}: a parameter must be a whole word between dots"
    return None


def has_wildcards(pattern: str) -> bool:
    return any(word in ("*", "#") for word in pattern.split("."))


def example_key(key: str, word: str = "probe") -> str:
    """A routing key the template ``key`` allows: each parameter given ``word``."""
    return ".".join(word if is_parameter(w) else w for w in key.split("."))


def as_binding(key: str) -> str:
    """The topic binding that receives every key of template ``key``: each parameter becomes ``*``."""
    return ".".join("*" if is_parameter(w) else w for w in key.split("."))


def routes(exchange_type: str, pattern: str, key: str, *, every: bool = True) -> bool:
    """Does a binding ``pattern`` on an exchange of ``exchange_type`` route the (template) ``key``?"""
    if exchange_type == "direct":
        if has_parameters(key):
            return not every and not has_wildcards(pattern)
        return pattern == key
    return _topic(tuple(pattern.split(".")), tuple(key.split(".")), every)


@lru_cache(maxsize=65536)
def _topic(pattern: tuple[str, ...], key: tuple[str, ...], every: bool) -> bool:
    # table[i][j]: pattern[i:] matches key[j:]; filled from the ends, so no recursion
    rows, cols = len(pattern), len(key)
    table = [[False] * (cols + 1) for _ in range(rows + 1)]
    table[rows][cols] = True
    for i in range(rows - 1, -1, -1):
        word = pattern[i]
        for j in range(cols, -1, -1):
            if word == "#":
                table[i][j] = table[i + 1][j] or (j < cols and table[i][j + 1])
            elif j < cols:
                other = key[j]
                if is_parameter(other):
                    fits = word == "*" or not every
                else:
                    fits = word == "*" or word == other
                table[i][j] = fits and table[i + 1][j + 1]
    return table[0][0]
