"""The monitoring settings of .meta: what is read, and one line naming the key for what is wrong."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings

from metarepo.errors import ManifestError
from metarepo.monitor.settings import (Discovery, Inconclusive, Metrics, Slo, analysis_settings, monitoring_settings,
                                       project_metrics, project_slo)

PROMETHEUS = {"prometheus": "http://prometheus.staging:9090", "alertmanager": "http://alertmanager:9093"}


def project(**settings):
    return SimpleNamespace(name="services/orders", settings=settings)


def test_metrics_and_slo_of_a_project():
    assert project_metrics(project()) is None and project_slo(project()) is None
    assert project_metrics(project(metrics=True)) == Metrics(9100, "/metrics")
    assert project_metrics(project(metrics={"port": 8080, "path": "/prom"})) == Metrics(8080, "/prom")
    assert project_slo(project(slo={"error_ratio": 0.01, "latency_p99_ms": 500})) == Slo(0.01, 500.0)


@pytest.mark.parametrize("settings,line", [
    ({"metrics": {"port": 0}}, "metarepo.projects.services/orders.metrics.port: must be a port number"),
    ({"metrics": {"port": "9100"}}, "metrics.port: must be a port number (1-65535), not '9100'"),
    ({"metrics": {"path": "metrics"}}, "metrics.path: must be a URL path"),
    ({"metrics": {"path": "/a b"}}, "metrics.path: must be a URL path"),
    ({"metrics": {"ports": 9100}}, "metrics.ports: unknown key (known: port, path)"),
    ({"metrics": 9100}, "metrics: must be an object"),
    ({"slo": {"error_ratio": 1}}, "slo.error_ratio: must be a share of requests between 0 and 1"),
    ({"slo": {"error_ratio": True}}, "slo.error_ratio: must be a share"),
    ({"slo": {"latency_p99_ms": -5}}, "slo.latency_p99_ms: must be a number of milliseconds"),
    ({"slo": {}}, "slo: names no objective"),
    ({"slo": {"error_ratio": 0.1, "requests_metric": "http requests"}}, "slo.requests_metric: must be a Prometheus"),
])
def test_bad_project_settings_are_one_line_naming_the_key(settings, line):
    with pytest.raises(ManifestError) as info:
        project_metrics(project(**settings)) if "metrics" in settings else project_slo(project(**settings))
    assert line in str(info.value) and "\n" not in str(info.value)


def test_an_environment_with_analysis():
    analysis = analysis_settings("staging", {"monitoring": PROMETHEUS, "alerts": True, "inconclusive": "continue",
                                             "analysis": [{"name": "errors", "query": 'x{s="{service}"}',
                                                           "success": "< 0.05", "interval": "5s", "count": 3,
                                                           "initial_delay": 10, "inconclusive_limit": 1},
                                                          {"name": "latency", "query": "y", "failure": "> 0.5",
                                                           "inconclusive": "rollback"}]})
    errors, latency = analysis.checks
    assert (errors.times, errors.inconclusive, errors.inconclusive_limit) == ((10, 15, 20), Inconclusive.CONTINUE, 1)
    assert (latency.times, latency.inconclusive, latency.failure.comparisons[0].bound) == ((0,), Inconclusive.ROLLBACK,
                                                                                          0.5)
    assert analysis.seconds == 20 and analysis.alerts.label == "service"
    assert analysis_settings("staging", {}).configured is False
    assert monitoring_settings("prod", {"target": "kubernetes", "namespace": "shop"}).discovery is Discovery.KUBERNETES


@pytest.mark.parametrize("raw,line", [
    ({"analysis": [{"name": "e", "query": "up", "success": "< 1"}]},
     "staging.monitoring.prometheus: analysis needs the environment's Prometheus"),
    ({"alerts": True, "monitoring": {"prometheus": "http://p:9090"}},
     "staging.monitoring.alertmanager: alerts needs the environment's Alertmanager"),
    ({"monitoring": {"prometheus": "ftp://p"}}, "staging.monitoring.prometheus: must be an http(s) URL"),
    ({"monitoring": {"prometheus": "http://me:s3cret@p:x"}}, "not http://me:***@p:x"),
    ({"monitoring": {"timeout": 0}}, "staging.monitoring.timeout: must be a number of seconds"),
    ({"monitoring": {"discovery": "consul"}}, "staging.monitoring.discovery: must be swarm, nodes or kubernetes"),
    ({"monitoring": {"discovery": "nodes"}}, "staging.monitoring.nodes: discovery: nodes needs"),
    ({"monitoring": {"nodes": ["a b"]}}, "staging.monitoring.nodes: must be a list of host names"),
    ({"monitoring": {"docker_host": "ssh://deploy@x"}}, "staging.monitoring.docker_host: must be the Docker API"),
    ({"inconclusive": "pause"}, "staging.inconclusive: must be rollback or continue, not 'pause'"),
    ({"analysis": {"name": "e"}}, "staging.analysis: must be a list of checks"),
    ({"analysis": [{"name": "e", "query": "up"}], "monitoring": PROMETHEUS},
     "staging.analysis[0].success: needs a success condition"),
    ({"analysis": [{"name": "e", "query": "up", "success": "lt 1"}], "monitoring": PROMETHEUS},
     "staging.analysis[0].success: 'lt 1' is not a condition"),
    ({"analysis": [{"name": "e", "query": 'up{a="x}', "success": "< 1"}], "monitoring": PROMETHEUS},
     "staging.analysis[0].query: an unterminated \" string"),
    ({"analysis": [{"name": "e", "query": "up{a={svc}}", "success": "< 1"}], "monitoring": PROMETHEUS},
     "staging.analysis[0].query: unknown placeholder {svc}"),
    ({"analysis": [{"name": "e", "query": "up", "success": "< 1", "count": 0}], "monitoring": PROMETHEUS},
     "staging.analysis[0].count: must be a whole number from 1"),
    ({"analysis": [{"name": "e", "query": "up", "success": "< 1", "interval": "soon"}], "monitoring": PROMETHEUS},
     "staging.analysis[0].interval: must be seconds"),
    ({"analysis": [{"name": "e", "query": "up", "success": "< 1", "failure_limit": -1}], "monitoring": PROMETHEUS},
     "staging.analysis[0].failure_limit: must be a whole number, 0 or more"),
    ({"analysis": [{"name": "e", "query": "up", "success": "< 1", "successCondition": "< 1"}],
      "monitoring": PROMETHEUS}, "staging.analysis[0].successCondition: unknown key"),
    ({"analysis": [{"name": "e", "query": "up", "success": "< 1"}, {"name": "e", "query": "up", "success": "< 1"}],
      "monitoring": PROMETHEUS}, "staging.analysis[1].name: two checks are named 'e'"),
    ({"alerts": {"match": {"env": 1}}, "monitoring": PROMETHEUS}, "staging.alerts.match: must map label names"),
])
def test_bad_environment_settings_are_one_line_naming_the_key(raw, line):
    with pytest.raises(ManifestError) as info:
        analysis_settings("staging", raw)
    message = str(info.value)
    assert line in message and "\n" not in message and "s3cret" not in message


def _json(keys: list[str]):
    from hypothesis import strategies as st

    leaves = st.none() | st.booleans() | st.integers(-5, 70000) | st.floats() | st.sampled_from(
        ["", "< 0.05", "5s", "http://p:9090", "http://[::1", "tcp://:x", "{service}", "up", "rollback", "nodes", "a b"])
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(keys), inner, max_size=4), max_leaves=12)


CHECK_KEYS = ["name", "query", "success", "failure", "interval", "count", "initial_delay", "failure_limit",
              "inconclusive_limit", "inconclusive"]
ENV_KEYS = ["monitoring", "analysis", "alerts", "inconclusive", "prometheus", "alertmanager", "timeout", "discovery",
            "nodes", "network", "docker_host", "label", "match", *CHECK_KEYS]


@settings(max_examples=300, deadline=None)
@given(_json(ENV_KEYS), _json(["port", "path", "error_ratio", "latency_p99_ms", "requests_metric"]))
def test_random_settings_never_crash_only_name_the_key(environment, values):
    for read in (lambda: analysis_settings("e", environment if isinstance(environment, dict) else {"x": 1}),
                 lambda: project_metrics(project(metrics=values)), lambda: project_slo(project(slo=values))):
        try:
            read()
        except ManifestError as error:
            assert "\n" not in str(error) and str(error).startswith(("metarepo.environments.e", "metarepo.projects."))


def test_the_example_manifest_documents_valid_settings(meta, tmp_path):
    import json
    import shutil
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / ".meta.example"
    data = json.loads(example.read_text())["metarepo"]
    analysis = analysis_settings("staging", data["environments"]["staging"])
    assert [c.name for c in analysis.checks] == ["error-ratio"] and analysis.alerts is not None
    orders = project(**data["projects"]["services/orders"])
    assert project_metrics(orders) == Metrics(9100, "/metrics") and project_slo(orders).error_ratio == 0.01
    shutil.copy(example, tmp_path / ".meta")
    proc = meta("monitor", "render", "staging", "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out/rules/orders.yml").is_file()


def test_a_bad_analysis_setting_stops_a_rollout_even_a_dry_run_before_any_engine_is_asked(workspace, meta):
    import json

    data = json.loads((workspace / ".meta").read_text())
    data["metarepo"]["environments"]["staging"]["analysis"] = [{"name": "errors", "query": "up", "success": "<<1"}]
    data["metarepo"]["environments"]["staging"]["monitoring"] = {"prometheus": "http://127.0.0.1:9"}
    (workspace / ".meta").write_text(json.dumps(data))
    for extra in (("--dry-run",), ()):
        proc = meta("rollout", "staging", "--exclude", "notifications", *extra, cwd=workspace,
                    env={"DOCKER_HOST": "unix:///nonexistent/x.sock"})
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("meta: metarepo.environments.staging.analysis[0].success: '<<1' is not a")
        assert proc.stderr.count("\n") == 1
