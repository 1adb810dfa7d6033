"""The analysis gate against the real Prometheus and Alertmanager of the session's ``monitoring``.

No engine here: the gate is asked about a release directly, as the rollout
asks it once the service is live. Each test sets its own samples on the
endpoint Prometheus scrapes every second (a service name of its own, so
tests never read each other's), waits until Prometheus has them, and then
measures. The rollouts themselves are in tests/images/test_analysis.py and
tests/netns/test_rollout_analysis.py.
"""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace

import pytest

from metarepo.errors import ManifestError
from metarepo.images.gates import Reading
from metarepo.monitor.gate import AnalysisGate
from metarepo.monitor.settings import analysis_settings
from tests.servers.process import free_port


def release(service: str, version: str = "2.0.0"):
    return SimpleNamespace(service=service, version=version, sha="c0ffee" * 6 + "beef", project=f"services/{service}")


def gate(monitoring, *checks, alerts=None, inconclusive="rollback", prometheus=None, alertmanager=None,
         timeout=2) -> AnalysisGate:
    raw = {"monitoring": {"prometheus": prometheus or monitoring.prometheus.url,
                          "alertmanager": alertmanager or monitoring.alertmanager.url, "timeout": timeout},
           "analysis": list(checks), "inconclusive": inconclusive}
    if alerts is not None:
        raw["alerts"] = alerts
    return AnalysisGate(analysis_settings("staging", raw))


def check(name="errors", query='metatest_error_ratio{job="app",service="{service}",version="{version}"}',
          **more):
    return {"name": name, "query": query, "success": "< 0.05", **more}


def publish(monitoring, service: str, value: float, version: str = "2.0.0", **labels) -> None:
    monitoring.endpoint.set("metatest_error_ratio", value, service=service, version=version, **labels)
    selector = ",".join(f'{k}="{v}"' for k, v in {"job": "app", "service": service, "version": version, **labels}.items())
    monitoring.prometheus.wait_for(f"metatest_error_ratio{{{selector}}}")


def readings(verdict) -> list[tuple[str, str]]:
    return [(m.check, m.reading.value) for m in verdict.measurements]


def test_a_release_whose_checks_pass_every_measurement_passes(monitoring):
    publish(monitoring, "an-pass", 0.01)
    verdict = gate(monitoring, check(count=3, interval=0.4, initial_delay=0.2)).after(release("an-pass"))
    assert verdict.ok, verdict.reason
    assert readings(verdict) == [("errors", "passed")] * 3
    assert [m.value for m in verdict.measurements] == [0.01] * 3
    at = [m.at for m in verdict.measurements]  # initial_delay, then every interval
    assert at[0] == pytest.approx(0.2, abs=0.15) and at[2] - at[0] == pytest.approx(0.8, abs=0.15)


def test_failures_past_the_failure_limit_fail_the_release_at_once(monitoring):
    publish(monitoring, "an-fail", 0.4)
    verdict = gate(monitoring, check(count=5, interval=0.2, failure_limit=1)).after(release("an-fail"))
    assert not verdict.ok
    assert readings(verdict) == [("errors", "failed")] * 2  # the second failure is past the limit: no more
    assert verdict.reason == "errors failed: 0.4 is not < 0.05 (2 of 2 measurements failed, failure_limit 1)"


def test_one_failing_series_of_several_fails_the_measurement(monitoring):
    publish(monitoring, "an-tasks", 0.0, task="1")
    publish(monitoring, "an-tasks", 0.3, task="2")
    query = 'metatest_error_ratio{job="app",service="{service}"}'
    verdict = gate(monitoring, check(query=query)).after(release("an-tasks"))
    [measurement] = verdict.measurements
    assert measurement.reading is Reading.FAILED and sorted(measurement.value) == [0.0, 0.3]
    assert 'task="2"' in measurement.detail and "1 of 2 series" in measurement.detail


@pytest.mark.parametrize("policy", ["rollback", "continue"])
def test_a_query_that_returns_no_series_is_inconclusive_and_the_environment_says_what_that_does(monitoring, policy):
    verdict = gate(monitoring, check(count=2, interval=0.2), inconclusive=policy).after(release("an-nothing"))
    assert readings(verdict) == [("errors", "inconclusive")]
    assert verdict.measurements[0].value is None and "no series" in verdict.measurements[0].detail
    assert verdict.ok is (policy == "continue")
    if policy == "rollback":
        assert verdict.reason.endswith("inconclusive: rollback")


def test_no_series_is_never_a_pass_even_within_the_inconclusive_limit(monitoring):
    verdict = gate(monitoring, check(count=2, interval=0.2, inconclusive_limit=5)).after(release("an-never"))
    assert readings(verdict) == [("errors", "inconclusive")] * 2
    assert not verdict.ok and "no measurement passed" in verdict.reason


def test_nan_is_no_data(monitoring):
    publish(monitoring, "an-nan", float("nan"))
    verdict = gate(monitoring, check()).after(release("an-nan"))
    assert readings(verdict) == [("errors", "inconclusive")] and verdict.measurements[0].value == "NaN"


def test_a_version_that_is_not_a_label_value_cannot_change_the_query(monitoring):
    publish(monitoring, "an-evil", 0.01)
    evil = '2.0.0"} or vector(1) or metatest_error_ratio{version="'
    verdict = gate(monitoring, check(query='metatest_error_ratio{service="{service}",version="{version}"} * 0',
                                     success="== 1")).after(release("an-evil", evil))
    # pasted in as text, the query would return vector(1) and pass; filled in, it asks for that odd version
    assert readings(verdict) == [("errors", "inconclusive")] and "no series" in verdict.measurements[0].detail


def test_an_unreachable_prometheus_is_one_line_and_inconclusive(monitoring):
    closed = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    verdict = gate(monitoring, check(count=3, interval=0.2), prometheus=closed).after(release("an-down"))
    assert readings(verdict) == [("errors", "error")] and not verdict.ok
    detail = verdict.measurements[0].detail
    assert detail == f"Prometheus at {closed} is unreachable (connection refused)"
    assert verdict.reason == f"errors inconclusive: {detail} (1 of 1 measurement inconclusive, " \
                             "inconclusive_limit 0); inconclusive: rollback"
    assert time.monotonic() - started < 2
    assert gate(monitoring, check(), prometheus=closed, inconclusive="continue").after(release("an-down")).ok


def test_a_prometheus_that_does_not_answer_times_out(monitoring):
    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        verdict = gate(monitoring, check(), prometheus=url, timeout=0.5).after(release("an-slow"))
    assert time.monotonic() - started < 3
    assert verdict.measurements[0].detail == f"Prometheus at {url} did not answer within 0.5s"


def test_a_query_prometheus_cannot_parse_refuses_the_rollout_before_it_starts(monitoring):
    analysis = gate(monitoring, check(query='rate(metatest_error_ratio{service="{service}"}[1m]'))
    plan = SimpleNamespace(releases=(release("an-typo"),))
    with pytest.raises(ManifestError) as info:
        analysis.before(plan)
    assert str(info.value).startswith("metarepo.environments.staging.analysis[0].query: Prometheus rejects the "
                                      "query: ") and "nothing was changed" in str(info.value)
    [measurement] = analysis.after(release("an-typo")).measurements  # asked anyway: an error reading
    assert measurement.reading is Reading.ERROR and "rejects the query" in measurement.detail
    gate(monitoring, check()).before(plan)  # a good query: nothing to say
    gate(monitoring, check(), prometheus=f"http://127.0.0.1:{free_port()}").before(plan)  # down: measurements will say


def resolve(monitoring, labels: dict) -> None:
    monitoring.alertmanager.post({"labels": labels, "endsAt": "2000-01-01T00:00:00Z"})


def test_an_alert_firing_for_the_service_fails_it(monitoring):
    labels = {"alertname": "MetatestErrorBudgetBurn", "service": "an-alerted", "severity": "page"}
    monitoring.alertmanager.post({"labels": labels})
    try:
        verdict = gate(monitoring, alerts=True).after(release("an-alerted"))
        assert not verdict.ok and verdict.reason == "alerts failed: alert MetatestErrorBudgetBurn (severity page) " \
                                                   "firing (1 of 1 measurement failed, failure_limit 0)"
        [measurement] = verdict.measurements
        assert (measurement.gate, measurement.value) == ("alerts", ["MetatestErrorBudgetBurn"])
        assert gate(monitoring, alerts=True).after(release("an-quiet")).ok  # another service's alert is not ours
        matched = gate(monitoring, alerts={"match": {"severity": "ticket"}}).after(release("an-alerted"))
        assert matched.ok  # only alerts that also carry every label of match count
    finally:
        resolve(monitoring, labels)


def test_alerts_are_read_at_every_measurement_and_one_firing_midway_fails_the_release(monitoring):
    import threading

    publish(monitoring, "an-midway", 0.0)
    labels = {"alertname": "MetatestMidway", "service": "an-midway"}
    timer = threading.Timer(0.5, monitoring.alertmanager.post, [{"labels": labels}])
    timer.start()
    try:
        verdict = gate(monitoring, check(count=8, interval=0.3), alerts=True).after(release("an-midway"))
    finally:
        timer.join()
        resolve(monitoring, labels)
    assert not verdict.ok and verdict.measurements[-1].gate == "alerts"
    assert ("alerts", "passed") in readings(verdict) and ("errors", "passed") in readings(verdict)
    assert len(verdict.measurements) < 16


def test_an_unreachable_alertmanager_is_inconclusive(monitoring):
    closed = f"http://127.0.0.1:{free_port()}"
    verdict = gate(monitoring, alerts=True, alertmanager=closed).after(release("an-am-down"))
    assert readings(verdict) == [("alerts", "error")] and not verdict.ok
    assert verdict.measurements[0].detail == f"Alertmanager at {closed} is unreachable (connection refused)"
