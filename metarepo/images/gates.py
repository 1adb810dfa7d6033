"""Gates: what else a rollout asks before it starts and after each service converges.

A target's own convergence is the health gate (Swarm calls a task running
only once its HEALTHCHECK passes). A ``Gate`` adds a question of its own:
``before`` is asked once, with the whole plan, before anything changes (a
broker that lacks a consumer's queue refuses the rollout there); ``after``
is asked of each service once it is live (a metric analysis, a firing
alert). A failed ``after`` fails that service's step, and the rollout rolls
the whole batch back as it does for a failed health check; its measurements
are kept in the step for the report.

Gates are made from the environment's settings by the capability that owns
them (``monitor``, ``broker``), which import these types from here;
``release.gates.rollout_gates``, a layer above both, collects them, so
``meta rollout`` and release trains gate alike and ``images`` never imports
the capabilities that gate it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

from metarepo.report import NULL, Reporter

if TYPE_CHECKING:
    from metarepo.images.release import Release
    from metarepo.images.rollout import RolloutPlan
    from metarepo.manifest import Manifest


class Reading(Enum):
    """What one measurement said."""

    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"  # no data, or the source could not be asked: never a pass
    ERROR = "error"


@dataclass(frozen=True)
class Measurement:
    """One reading a gate took: which check, when, the value, and what it made of it."""

    gate: str  # e.g. "analysis", "alerts"
    check: str  # the check's name
    reading: Reading
    value: Any = None  # a number, a list of values, or None when there was nothing to read
    at: float = 0.0  # seconds since the service converged
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"gate": self.gate, "check": self.check, "reading": self.reading.value, "value": self.value,
                "at": round(self.at, 3), "detail": self.detail or None}


@dataclass(frozen=True)
class Verdict:
    """A gate's answer for one service: ``ok``, why not, and every measurement taken."""

    ok: bool
    reason: str = ""
    measurements: tuple[Measurement, ...] = ()


class Gate(Protocol):
    name: str

    def before(self, plan: RolloutPlan) -> None:
        """Raise ``RolloutFailed`` (one line, nothing changed yet) to refuse the rollout."""

    def after(self, release: Release, reporter: Reporter = NULL) -> Verdict:
        """Asked once ``release`` is live and healthy; a failed verdict rolls the batch back."""
