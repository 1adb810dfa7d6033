"""One service's analysis once it is live: its checks measured on schedule, and a verdict.

The checks run side by side, in Argo Rollouts' terms: each takes its first
measurement ``initial_delay`` seconds after the service converged, then
one every ``interval`` until it has ``count``. After each measurement it is
assessed as Argo does: more failed measurements than ``failure_limit`` and
it has failed; more inconclusive ones than ``inconclusive_limit`` and it is
inconclusive; ``count`` taken and neither, it has passed (as long as one
measurement did pass: a check that never measured anything is
inconclusive, never a pass).

A measurement passes or fails by the check's ``success`` and ``failure``
conditions, applied to every series the query returns (one failing series
fails it). No series, or only NaN (a ratio with no requests), is
inconclusive; so is a Prometheus that cannot be asked (an ``error``
reading, counted with the inconclusive ones).

With ``alerts``, Alertmanager is asked when the analysis starts and at each
measurement: an alert firing for the service fails it at once.

The first check that fails ends the analysis with a failed verdict (the
rollout then rolls the batch back); one that is inconclusive does the same
under ``inconclusive: rollback``, and under ``continue`` only says so.
Every measurement taken is in the verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from metarepo.images.gates import Measurement, Reading, Verdict
from metarepo.monitor.settings import Analysis, Check, Inconclusive
from metarepo.monitor.sources import Alertmanager, Prometheus, SourceError
from metarepo.report import NULL, Reporter

ANALYSIS, ALERTS = "analysis", "alerts"


@dataclass
class _Progress:
    """A check's counts so far, and how it ended (None while it runs). Private to one analysis."""

    name: str
    times: tuple[float, ...]
    failure_limit: int
    inconclusive_limit: int
    policy: Inconclusive
    taken: int = 0
    passed: int = 0
    failed: int = 0
    inconclusive: int = 0
    ended: Reading | None = None
    why: str = ""

    def record(self, reading: Reading, detail: str) -> None:
        self.taken += 1
        if reading is Reading.PASSED:
            self.passed += 1
        elif reading is Reading.FAILED:
            self.failed += 1
        else:
            self.inconclusive += 1
        if self.failed > self.failure_limit:
            self.ended = Reading.FAILED
            self.why = f"{detail} ({_counted(self.failed, self.taken, 'failed')}, failure_limit {self.failure_limit})"
        elif self.inconclusive > self.inconclusive_limit:
            self.ended = Reading.INCONCLUSIVE
            self.why = (f"{detail} ({_counted(self.inconclusive, self.taken, 'inconclusive')}, "
                        f"inconclusive_limit {self.inconclusive_limit})")
        elif self.taken >= len(self.times):
            self.ended = Reading.PASSED if self.passed else Reading.INCONCLUSIVE
            self.why = "" if self.passed else "no measurement passed"


def placeholders(release: Any, environment: str) -> dict[str, str]:
    """The values of a query's placeholders for ``release``."""
    return {"service": release.service, "version": release.version or release.sha, "sha": release.sha,
            "project": release.project, "environment": environment}


def read_check(prometheus: Prometheus, check: Check, query: str) -> tuple[Reading, Any, str]:
    """One measurement of ``check``: (reading, value, detail)."""
    try:
        samples = prometheus.query(query)
    except SourceError as exc:
        return Reading.ERROR, None, str(exc)
    if not samples:
        return Reading.INCONCLUSIVE, None, "the query returned no series"
    known = [s for s in samples if s.known]
    if not known:
        return Reading.INCONCLUSIVE, "NaN", "the query returned only NaN (nothing to measure yet?)"
    readings = [(_judge(check, s.value), s) for s in known]
    value: Any = _number(known[0]) if len(known) == 1 else [_number(s) for s in known]
    failing = [s for r, s in readings if r is Reading.FAILED]
    unsure = [s for r, s in readings if r is Reading.INCONCLUSIVE]
    if failing:
        return Reading.FAILED, value, _why(check, failing, len(known), fails=True)
    if unsure:
        return Reading.INCONCLUSIVE, value, _why(check, unsure, len(known), fails=False)
    return Reading.PASSED, value, ""


def read_alerts(alertmanager: Alertmanager, labels: Mapping[str, str]) -> tuple[Reading, Any, str]:
    try:
        alerts = alertmanager.firing(labels)
    except SourceError as exc:
        return Reading.ERROR, None, str(exc)
    if not alerts:
        return Reading.PASSED, [], ""
    names = sorted({a.name for a in alerts})
    first = alerts[0]
    severity = f" (severity {first.labels['severity']})" if "severity" in first.labels else ""
    more = f" and {len(alerts) - 1} more" if len(alerts) > 1 else ""
    return Reading.FAILED, names, f"alert {first.name}{severity} firing{more}"


def analyse(analysis: Analysis, release: Any, *, reporter: Reporter = NULL,
            clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Verdict:
    """Measure ``release`` (live and healthy) by every check of ``analysis``; the verdict and each measurement."""
    monitoring = analysis.monitoring
    values = placeholders(release, monitoring.environment)
    prometheus = Prometheus(monitoring.prometheus, monitoring.timeout) if analysis.checks else None
    queries = {check.name: _fill(check.query, values) for check in analysis.checks}
    progress = [_Progress(c.name, c.times, c.failure_limit, c.inconclusive_limit, c.inconclusive)
                for c in analysis.checks]
    checks = {c.name: c for c in analysis.checks}
    alerts = None
    if analysis.alerts is not None:
        ticks = tuple(sorted({0.0, *(t for c in analysis.checks for t in c.times)}))
        alerts = _Progress(ALERTS, ticks, 0, 0, analysis.inconclusive)
        alert_labels = {analysis.alerts.label: release.service, **dict(analysis.alerts.match)}
        alertmanager = Alertmanager(monitoring.alertmanager, monitoring.timeout)
    everything = [*progress, *([alerts] if alerts else [])]
    schedule = sorted({t for p in everything for t in p.times})
    if schedule:
        reporter.note(f"{release.service}: analysing for {analysis.seconds:g}s ({_plan(analysis)})")
    measurements: list[Measurement] = []
    start = clock()
    for tick in schedule:
        wait = start + tick - clock()
        if wait > 0:
            sleep(wait)
        due = [p for p in everything if p.ended is None and tick in p.times]
        for item in due:
            at = clock() - start
            if item is alerts:
                reading, value, detail = read_alerts(alertmanager, alert_labels)
                measurement = Measurement(ALERTS, ALERTS, reading, value, at, detail)
            else:
                reading, value, detail = read_check(prometheus, checks[item.name], queries[item.name])
                measurement = Measurement(ANALYSIS, item.name, reading, value, at, detail)
            measurements.append(measurement)
            item.record(reading, detail)
            if reading is not Reading.PASSED:
                reporter.note(f"{release.service}: {item.name} @{at:.1f}s: {_shown(value)} {reading.value}"
                              + (f" ({detail})" if detail else ""))
            verdict = _ended(item, release, tuple(measurements), reporter)
            if verdict is not None:
                return verdict
    return Verdict(True, "", tuple(measurements))


def _ended(item: _Progress, release: Any, measurements: tuple[Measurement, ...],
           reporter: Reporter) -> Verdict | None:
    """The failed verdict ``item``'s end calls for, if it ended so; None to carry on."""
    if item.ended is Reading.FAILED:
        return Verdict(False, f"{item.name} failed: {item.why}", measurements)
    if item.ended is Reading.INCONCLUSIVE:
        if item.policy is Inconclusive.ROLLBACK:
            return Verdict(False, f"{item.name} inconclusive: {item.why}; inconclusive: rollback", measurements)
        reporter.note(f"{release.service}: {item.name} inconclusive ({item.why}); carrying on "
                      "(inconclusive: continue)")
    return None


def _fill(query: str, values: Mapping[str, str]) -> str:
    from metarepo.monitor.promql import fill_query

    return fill_query(query, values)


def _judge(check: Check, value: float) -> Reading:
    """Argo's rules: failure wins; with both conditions, a value meeting neither is inconclusive."""
    if check.failure is not None and check.failure.holds(value):
        return Reading.FAILED
    if check.success is not None:
        if check.success.holds(value):
            return Reading.PASSED
        return Reading.INCONCLUSIVE if check.failure is not None else Reading.FAILED
    return Reading.PASSED


def _why(check: Check, samples: list, total: int, *, fails: bool) -> str:
    first = samples[0]
    if fails and check.failure is not None and check.failure.holds(first.value):
        said = f"{first.text} meets the failure condition {check.failure}"
    elif fails:
        said = f"{first.text} is not {check.success}"
    else:
        said = f"{first.text} is neither {check.success} nor {check.failure}"
    if total > 1:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(first.labels.items()) if k != "__name__")
        said = f"{len(samples)} of {total} series: {{{labels}}} {said}"
    return said


def _number(sample: Any) -> Any:
    """A sample's value for JSON: a float, or Prometheus' own text for +Inf and -Inf."""
    return sample.value if abs(sample.value) != float("inf") else sample.text


def _shown(value: Any) -> str:
    if value is None:
        return "no data"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _counted(n: int, taken: int, what: str) -> str:
    return f"{n} of {taken} measurement{'s' if taken != 1 else ''} {what}"


def _plan(analysis: Analysis) -> str:
    parts = [f"{c.name} x{c.count}" + (f" every {c.interval:g}s" if c.count > 1 else "")
             + (f" after {c.initial_delay:g}s" if c.initial_delay else "") for c in analysis.checks]
    return ", ".join(parts + (["alerts"] if analysis.alerts is not None else []))
