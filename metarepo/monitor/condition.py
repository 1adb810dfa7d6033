"""Conditions such as ``"< 0.05"`` or ``">= 0.95 and <= 1"``: parsed by hand, never evaluated as code.

A condition is one or more comparisons of the measured value against a
number, joined by ``and``. Argo Rollouts' spelling is accepted too:
``"result < 0.05"`` and ``"result[0] >= 0.95"`` mean the same. Only finite
numbers are bounds; a value is compared as a float, so ``+Inf`` is greater
than every bound and NaN satisfies nothing (the analysis reads NaN as "no
data", before any condition is asked).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Callable

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
}
_COMPARISON = re.compile(r"\s*(?:result(?:\[0\])?\s*)?(<=|>=|==|!=|<|>)\s*"
                         r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_MAX_LENGTH = 200


class ConditionError(ValueError):
    """Not a condition; the message says what one looks like."""


@dataclass(frozen=True)
class Comparison:
    op: str
    bound: float

    def holds(self, value: float) -> bool:
        return _OPERATORS[self.op](value, self.bound)

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}"


@dataclass(frozen=True)
class Condition:
    text: str
    comparisons: tuple[Comparison, ...]

    def holds(self, value: float) -> bool:
        return all(c.holds(value) for c in self.comparisons)

    def __str__(self) -> str:
        return " and ".join(map(str, self.comparisons))


def parse_condition(text: object) -> Condition:
    """``text`` as a ``Condition``; ``ConditionError`` when it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError(f"must be a condition such as \"< 0.05\", not {text!r}")
    if len(text) > _MAX_LENGTH:
        raise ConditionError(f"is longer than {_MAX_LENGTH} characters")
    comparisons = []
    for part in re.split(r"\s+and\s+", text.strip()):
        match = _COMPARISON.match(part)
        if not match:
            raise ConditionError(f"{text!r} is not a condition such as \"< 0.05\" or \">= 0.95 and <= 1\" "
                                 "(an operator <, <=, >, >=, == or != and a number, joined by 'and')")
        comparisons.append(Comparison(match.group(1), float(match.group(2))))
    return Condition(text, tuple(comparisons))
