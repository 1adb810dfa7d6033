"""Alerting rules from each service's SLO: error-budget burn rates, and a p99 latency threshold.

``error_ratio`` is an error budget (0.01: at most 1% of requests may fail),
so it gets the multiwindow, multi-burn-rate alerts of Google's SRE
workbook ("Alerting on SLOs"): the error ratio over a long and a short
window both above a multiple of the budget. A page when the budget burns
14.4 times too fast over 1h (and 5m) or 6 times over 6h (and 30m), a
ticket at 3 times over 1d (and 2h) or once over 3d (and 6h). The long
window keeps a blip from paging; the short one lets the alert stop soon
after the errors do. Recording rules compute each window's ratio once.
Errors are the requests counter's ``code=~"5.."`` series.

``latency_p99_ms`` has no budget to burn (that would need the histogram to
have a bucket at exactly that latency), so it is a threshold: the p99 over
5m above the objective for 5m pages.

Every alert carries the labels the analysis gate looks for (``service``,
``environment``) and ``severity``. Prometheus expands ``{{ }}`` templates
in alerting rules' labels and annotations: values from the manifest are escaped so a
project named ``{{ query "up" }}`` stays text.
"""

from __future__ import annotations

from typing import Any

from metarepo.monitor.promql import quote
from metarepo.monitor.scrape import Watched

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (severity, burn rate, long window, short window), twice per severity: the SRE workbook's table.
BURNS = (("page", 14.4, "1h", "5m"), ("page", 6, "6h", "30m"), ("ticket", 3, "1d", "2h"), ("ticket", 1, "3d", "6h"))
RATIO = "service:slo_errors_per_request:ratio_rate"


def slo_rules(watched: Watched, environment: str) -> dict[str, Any] | None:
    """The rule file for ``watched``'s SLO (None when it has none)."""
    slo = watched.slo
    if slo is None:
        return None
    selector = f"service={quote(watched.service)},environment={quote(environment)}"
    labels = {"service": watched.service, "environment": environment}  # recording rules' labels are not templated
    alert_labels = {"service": _text(watched.service), "environment": _text(environment),
                    "project": _text(watched.project)}
    who = f"{_text(watched.service)} in {_text(environment)}"
    rules: list[dict[str, Any]] = []
    if slo.error_ratio is not None:
        budget = slo.error_ratio
        total = f"{slo.requests_metric}{{{selector}}}"
        errors = f'{slo.requests_metric}{{{selector},code=~"5.."}}'
        rules += [{"record": f"{RATIO}{window}",
                   "expr": f"sum(rate({errors}[{window}])) / sum(rate({total}[{window}]))", "labels": labels}
                  for window in WINDOWS]
        for severity in ("page", "ticket"):
            pairs = [(rate, long, short) for level, rate, long, short in BURNS if level == severity]
            expr = " or ".join(f"({RATIO}{long}{{{selector}}} > {_number(rate * budget)} and "
                               f"{RATIO}{short}{{{selector}}} > {_number(rate * budget)})" for rate, long, short in pairs)
            rules.append({
                "alert": "ErrorBudgetBurn", "expr": expr, "labels": {**alert_labels, "severity": severity},
                "annotations": {
                    "summary": f"{who} is burning its error budget {'fast' if severity == 'page' else 'steadily'}",
                    "description": f"{{{{ $value | humanizePercentage }}}} of requests fail; the SLO allows "
                                   f"{_number(budget * 100)}% (burn rates {', '.join(_number(r) + 'x' for r, _, _ in pairs)})"}})
    if slo.latency_p99_ms is not None:
        seconds = slo.latency_p99_ms / 1000
        rules.append({
            "alert": "LatencyP99High", "for": "5m",
            "expr": f"histogram_quantile(0.99, sum by (le) (rate({slo.latency_metric}_bucket{{{selector}}}[5m])))"
                    f" > {_number(seconds)}",
            "labels": {**alert_labels, "severity": "page"},
            "annotations": {"summary": f"{who} answers slower than its SLO",
                            "description": f"p99 latency {{{{ $value | humanizeDuration }}}}; the SLO is "
                                           f"{_number(slo.latency_p99_ms)} ms"}})
    return {"groups": [{"name": f"metarepo/{environment}/{watched.service}", "rules": rules}]}


def _number(value: float) -> str:
    """A threshold as Prometheus reads it, without float noise (14.4 * 0.01 is 0.144)."""
    return f"{value:.10g}"


def _text(value: str) -> str:
    """``value`` as literal text in a Prometheus template: each ``{`` is written by an action of its own."""
    return value.replace("{", '{{ "{" }}')
