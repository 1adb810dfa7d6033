"""The analysis gate: an environment's ``analysis`` checks and ``alerts``, asked of each service a rollout puts live.

``analysis_gates(manifest, env)`` reads the settings (a mistake is one
line naming the key, before anything changes) and returns the gate when
the environment asks for any analysis, else nothing. ``before`` has
Prometheus parse every check's query once, filled in for the first
release, so a typo in ``.meta`` refuses the rollout before it starts
(when Prometheus cannot be asked then, the checks' own measurements will
say so); ``after`` runs the analysis (analysis.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from metarepo.errors import ManifestError
from metarepo.images.gates import Verdict
from metarepo.monitor.analysis import analyse, placeholders
from metarepo.monitor.promql import fill_query
from metarepo.monitor.settings import Analysis, analysis_settings
from metarepo.monitor.sources import Prometheus, QueryRejected, SourceError
from metarepo.report import NULL, Reporter

if TYPE_CHECKING:
    from metarepo.images.release import Release
    from metarepo.images.rollout import RolloutPlan
    from metarepo.manifest import Manifest


class AnalysisGate:
    name = "analysis"

    def __init__(self, analysis: Analysis, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.analysis = analysis
        self._clock, self._sleep = clock, sleep

    def before(self, plan: RolloutPlan) -> None:
        if not plan.releases or not self.analysis.checks:
            return
        monitoring = self.analysis.monitoring
        prometheus = Prometheus(monitoring.prometheus, monitoring.timeout)
        values = placeholders(plan.releases[0], monitoring.environment)
        for check in self.analysis.checks:
            try:
                prometheus.query(fill_query(check.query, values))
            except QueryRejected as exc:
                raise ManifestError(f"{exc}; nothing was changed", key=f"{check.key}.query") from None
            except SourceError:
                return  # unreachable now: each measurement will say so, and inconclusive decides

    def after(self, release: Release, reporter: Reporter = NULL) -> Verdict:
        return analyse(self.analysis, release, reporter=reporter, clock=self._clock, sleep=self._sleep)


def analysis_gates(manifest: Manifest, env: str, settings: Mapping[str, Any] | None = None) -> list[AnalysisGate]:
    """The gate environment ``env`` asks for (``settings``: its raw entry, else the manifest's)."""
    analysis = analysis_settings(env, settings if settings is not None else manifest.environment(env))
    return [AnalysisGate(analysis)] if analysis.configured else []
