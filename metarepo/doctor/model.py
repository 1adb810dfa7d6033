"""The scorecard's values: a check, its verdict on one repository, a repository's card, the fleet's.

A check passes, fails with one line saying what to do, or does not apply
(with why). A repository's score is the share of its applicable checks that
pass (``passed / applicable``, as a whole percentage, rounded down so that
99.6% never shows as 100); the fleet's is the same over every check of
every repository that could be looked at. A repository that is not cloned
has no score: nothing of it could be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable


class CheckState(str, Enum):
    PASSED = "pass"
    FAILED = "fail"
    NOT_APPLICABLE = "n/a"

    def __str__(self) -> str:
        return self.value


PASSED, FAILED, NOT_APPLICABLE = CheckState.PASSED, CheckState.FAILED, CheckState.NOT_APPLICABLE

# The pieces of the architecture, in the order the scorecard shows them; custom groups follow.
GROUPS = ("containerised", "delivery", "contracts", "proxy", "monitoring", "logging", "messaging", "meta")


@dataclass(frozen=True)
class Check:
    """One question asked of every repository: ``group.name`` is its id."""

    group: str
    name: str
    title: str  # what passing means, for a person: "a HEALTHCHECK in the final stage"
    custom: bool = False

    @property
    def id(self) -> str:
        return f"{self.group}.{self.name}"


@dataclass(frozen=True)
class Result:
    """One check's verdict on one repository; ``detail`` is what to do (failed) or why (not applicable)."""

    check: str  # the check's id
    state: CheckState
    detail: str = ""

    def as_json(self) -> dict:
        return {"check": self.check, "state": self.state.value, "detail": self.detail}


def passed(check: Check, detail: str = "") -> Result:
    return Result(check.id, PASSED, detail)


def failed(check: Check, what_to_do: str) -> Result:
    return Result(check.id, FAILED, what_to_do)


def not_applicable(check: Check, why: str) -> Result:
    return Result(check.id, NOT_APPLICABLE, why)


def score_of(results: Iterable[Result]) -> tuple[int, int]:
    """(passed, applicable)."""
    results = list(results)
    return (sum(1 for r in results if r.state is PASSED), sum(1 for r in results if r.state is not NOT_APPLICABLE))


def percent(good: int, applicable: int) -> int | None:
    return None if applicable == 0 else good * 100 // applicable


@dataclass(frozen=True)
class Card:
    """One repository's results, in the scorecard's check order."""

    project: str
    results: tuple[Result, ...]
    cloned: bool = True

    @property
    def passed(self) -> int:
        return score_of(self.results)[0]

    @property
    def applicable(self) -> int:
        return score_of(self.results)[1]

    @property
    def score(self) -> int | None:
        """0-100, or None when the repository could not be looked at (not cloned) or nothing applies."""
        return percent(self.passed, self.applicable) if self.cloned else None

    def result(self, check_id: str) -> Result | None:
        return next((r for r in self.results if r.check == check_id), None)

    def failures(self) -> list[Result]:
        return [r for r in self.results if r.state is FAILED]

    def as_json(self) -> dict:
        return {"project": self.project, "cloned": self.cloned, "score": self.score, "passed": self.passed,
                "applicable": self.applicable, "results": [r.as_json() for r in self.results]}


@dataclass(frozen=True)
class Scorecard:
    """Every selected repository's card, the checks asked (in order), and notes on the run."""

    checks: tuple[Check, ...]
    cards: tuple[Card, ...]
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def groups(self) -> list[tuple[str, list[Check]]]:
        """The checks by group, in order: the architecture's groups first, then custom ones as they come."""
        order: dict[str, list[Check]] = {}
        for check in self.checks:
            order.setdefault(check.group, []).append(check)
        return list(order.items())

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.cards if c.cloned)

    @property
    def applicable(self) -> int:
        return sum(c.applicable for c in self.cards if c.cloned)

    @property
    def score(self) -> int | None:
        return percent(self.passed, self.applicable)

    def under(self, minimum: int) -> list[Card]:
        """The repositories scoring under ``minimum``; one with no score (not cloned) is under any bar."""
        return [c for c in self.cards if c.score is None or c.score < minimum]

    def as_json(self) -> dict:
        return {"score": self.score, "passed": self.passed, "applicable": self.applicable,
                "checks": [{"id": c.id, "group": c.group, "name": c.name, "title": c.title, "custom": c.custom}
                           for c in self.checks],
                "projects": [c.as_json() for c in self.cards], "notes": list(self.notes),
                "seconds": round(self.seconds, 3)}
