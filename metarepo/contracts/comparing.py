"""What the comparer's rule mixins (``content_models``, ``extra_keywords``) may use of the comparer.

``rules.Comparer`` implements it; each mixin declares this as its base, so
the attributes and methods it shares with the others are named in one place
(and a missing one is an error when the class is made, not a surprise later).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from metarepo.contracts.model import Change


class Comparing(ABC):
    """One writer/reader comparison in progress."""

    wroot: Any  # the writer's whole schema (its $defs are where its refs point)
    rroot: Any  # the reader's
    wkeys: frozenset[str]  # the assertion keywords of the writer's draft
    rkeys: frozenset[str]
    lenient: bool  # the lenient policy: open content models may be constrained
    changes: list[Change]  # what was found so far

    @abstractmethod
    def add(self, path: str, kind: str, breaking: bool, message: str, where: tuple = (),
            writer: Any = None, reader: Any = None) -> None:
        """Record one change."""

    @abstractmethod
    def compare(self, w: Any, r: Any, path: str, where: tuple) -> None:
        """Compare two sub-schemas, recording their changes."""

    @abstractmethod
    def trial(self, w: Any, r: Any, path: str, where: tuple) -> list[Change]:
        """Compare without recording: the changes that would be recorded."""

    @abstractmethod
    def value_ok(self, value: Any, node: Any, root: Any) -> bool:
        """Does ``node`` (a sub-schema of ``root``) accept ``value``?"""

    @abstractmethod
    def disjoint(self, a: Any, b: Any, depth: int = 0) -> bool:
        """Provably no message matches both ``a`` (of the writer) and ``b`` (of the reader)."""

    @abstractmethod
    def _contains(self, w: dict, r: dict, path: str, where: tuple, w_rest: Any, w_prefix: list) -> None:
        """The reader's ``contains`` (and min/maxContains) against what the writer's array promises."""

    @abstractmethod
    def _limit(self, w: dict, r: dict, keyword: str, upper: bool, path: str, where: tuple,
               at: tuple | None = None) -> None:
        """A maxLength/minItems-style bound: tighter in the reader breaks."""
