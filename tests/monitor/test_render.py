"""`meta monitor render`: the files it writes, promtool's verdict on them, and the real Prometheus running them.

The rules are checked three ways: ``promtool check`` (every render),
``promtool test rules`` replaying hours of synthetic traffic through them
(the burn-rate windows are too long to wait for), and a real Prometheus
that loads the rendered folder, scrapes a live endpoint through the
rendered file_sd targets, and fires the rendered alerts into a real
Alertmanager, where the analysis gate finds them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from tests.servers.backends import metrics_endpoint
from tests.servers.fixtures import require
from tests.servers.prometheus import PACKAGES as PROMETHEUS_PACKAGES

ORDERS_SLO = {"error_ratio": 0.01, "latency_p99_ms": 500}


def meta_repo(root: Path, environments: dict, projects: dict | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    settings = projects if projects is not None else {
        "services/orders": {"slo": ORDERS_SLO},
        "services/billing": {"metrics": {"port": 8080, "path": "/prom"}, "slo": {"error_ratio": 0.001}},
        "services/docs": {"metrics": None}, "services/base": {"deploy": False}}
    (root / ".meta").write_text(json.dumps({
        "projects": {name: f"https://git.example/{Path(name).name}.git" for name in settings},
        "metarepo": {"defaults": {"metrics": {"port": 9100}}, "projects": settings,
                     "environments": environments}}, indent=2))
    return root


STAGING = {"target": "swarm", "monitoring": {"prometheus": "http://prometheus:9090",
                                             "alertmanager": "http://ops:s3cret@alertmanager:9093/am",
                                             "network": "edge"}}


def test_render_writes_a_config_and_rules_promtool_accepts_and_keeps_them_in_step(meta, tmp_path):
    require(PROMETHEUS_PACKAGES, "prometheus")
    root = meta_repo(tmp_path / "meta", {"staging": STAGING})
    out = tmp_path / "out"
    proc = meta("monitor", "render", "staging", "-o", str(out), "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["validated"].startswith("promtool ")
    assert {f["path"]: f["state"] for f in doc["files"]} == {
        "prometheus.yml": "written", "rules/orders.yml": "written", "rules/billing.yml": "written"}
    assert [s["service"] for s in doc["services"]] == ["orders", "billing"]
    assert doc["skipped"] == [{"project": "services/docs", "reason": "no metrics setting"},
                              {"project": "services/base", "reason": "not deployed (deploy: false)"}]
    assert "credentials are not written" in doc["notes"][0]

    config = yaml.safe_load((out / "prometheus.yml").read_text())
    assert config["rule_files"] == ["rules/*.yml"]
    orders, billing = config["scrape_configs"]
    assert (orders["job_name"], billing["metrics_path"]) == ("staging/orders", "/prom")
    [swarm] = orders["dockerswarm_sd_configs"]
    assert swarm == {"host": "unix:///var/run/docker.sock", "role": "tasks", "port": 9100,
                     "filters": [{"name": "service", "values": ["orders"]}]}
    relabel = {r.get("target_label") or r["source_labels"][0]: r for r in orders["relabel_configs"]}
    assert relabel["__meta_dockerswarm_network_name"]["regex"] == "edge"
    assert relabel["__address__"]["replacement"] == "${1}:9100"
    assert relabel["environment"]["replacement"] == "staging"
    assert config["alerting"]["alertmanagers"] == [{"scheme": "http", "static_configs": [{"targets": [
        "alertmanager:9093"]}], "path_prefix": "/am"}]
    assert "s3cret" not in "".join(p.read_text() for p in out.rglob("*.yml"))
    [group] = yaml.safe_load((out / "rules/orders.yml").read_text())["groups"]
    assert [r.get("alert") for r in group["rules"] if "alert" in r] == ["ErrorBudgetBurn", "ErrorBudgetBurn",
                                                                       "LatencyP99High"]

    # again: nothing changes; billing without its SLO: its rules go; a file of someone else's is never touched
    proc = meta("monitor", "render", "staging", "-o", str(out), "--json", cwd=root)
    assert {f["state"] for f in json.loads(proc.stdout)["files"]} == {"unchanged"}
    meta_repo(root, {"staging": STAGING}, {"services/orders": {"slo": ORDERS_SLO}, "services/billing": {}})
    proc = meta("monitor", "render", "staging", "-o", str(out), cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "removed" in proc.stdout and not (out / "rules/billing.yml").exists()
    (out / "rules/orders.yml").write_text("groups: []  # mine\n")
    proc = meta("monitor", "render", "staging", "-o", str(out), cwd=root)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"meta: {out}/rules/orders.yml exists and was not written by meta monitor render; nothing was written "
        "(give another folder with -o)")


def test_what_promtool_rejects_is_one_line_and_nothing_is_written(meta, tmp_path):
    require(PROMETHEUS_PACKAGES, "prometheus")
    root = meta_repo(tmp_path / "meta", {"staging": {"monitoring": {"docker_host": "tcp://:oops"}}})
    proc = meta("monitor", "render", "staging", "-o", str(tmp_path / "out"), cwd=root)
    assert proc.returncode == 2
    assert proc.stderr.startswith("meta: promtool rejects the rendered prometheus.yml: ") and \
        proc.stderr.rstrip().endswith("; nothing was written") and proc.stderr.count("\n") == 1
    assert "oops" in proc.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("environment,projects,line", [
    ({"monitoring": {"discovery": "consul"}}, None, "metarepo.environments.staging.monitoring.discovery: must be"),
    ({}, {"services/orders": {"metrics": {"port": 0}}}, "metarepo.projects.services/orders.metrics.port: must be"),
    ({}, {"services/orders": {"slo": {"error_ratio": 5}}}, "metarepo.projects.services/orders.slo.error_ratio: "),
])
def test_bad_settings_are_one_line_naming_the_key(meta, tmp_path, environment, projects, line):
    root = meta_repo(tmp_path / "meta", {"staging": environment}, projects)
    proc = meta("monitor", "render", "staging", "-o", str(tmp_path / "out"), cwd=root)
    assert proc.returncode == 2 and proc.stderr.startswith(f"meta: {line}") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()
    proc = meta("monitor", "render", "nowhere", "-o", str(tmp_path / "out"), cwd=root)
    assert proc.returncode == 2 and "unknown environment 'nowhere'" in proc.stderr


# promtool's rule unit tests: series are "start+step x count" per evaluation minute.
RULE_TESTS = """rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'http_requests_total{{service="orders",environment="{env}",code="200"}}'
        values: '0+100x120'
      - series: 'http_requests_total{{service="orders",environment="{env}",code="500"}}'
        values: '0+20x120'
      - series: 'http_request_duration_seconds_bucket{{service="orders",environment="{env}",le="0.1"}}'
        values: '0+0x120'
      - series: 'http_request_duration_seconds_bucket{{service="orders",environment="{env}",le="1"}}'
        values: '0+100x120'
      - series: 'http_request_duration_seconds_bucket{{service="orders",environment="{env}",le="+Inf"}}'
        values: '0+100x120'
    alert_rule_test:
      - eval_time: 3m
        alertname: LatencyP99High
        exp_alerts: []
      - eval_time: 30m
        alertname: ErrorBudgetBurn
        exp_alerts:
          - exp_labels: {{severity: page, service: orders, environment: '{env}', project: services/orders}}
            exp_annotations:
              summary: 'orders in {env} is burning its error budget fast'
              description: '16.67% of requests fail; the SLO allows 1% (burn rates 14.4x, 6x)'
          - exp_labels: {{severity: ticket, service: orders, environment: '{env}', project: services/orders}}
            exp_annotations:
              summary: 'orders in {env} is burning its error budget steadily'
              description: '16.67% of requests fail; the SLO allows 1% (burn rates 3x, 1x)'
      - eval_time: 30m
        alertname: LatencyP99High
        exp_alerts:
          - exp_labels: {{severity: page, service: orders, environment: '{env}', project: services/orders}}
            exp_annotations:
              summary: 'orders in {env} answers slower than its SLO'
              description: 'p99 latency 991ms; the SLO is 500 ms'
  - interval: 1m
    input_series:
      - series: 'http_requests_total{{service="orders",environment="{env}",code="200"}}'
        values: '0+1000x120'
      - series: 'http_requests_total{{service="orders",environment="{env}",code="500"}}'
        values: '0+5x120'
    alert_rule_test:
      - eval_time: 90m
        alertname: ErrorBudgetBurn
        exp_alerts: []
"""


@pytest.mark.parametrize("env", ["staging", "stage {{ $value }}"])
def test_the_rules_fire_as_the_sre_workbook_says_when_promtool_replays_traffic(tmp_path, env):
    require(PROMETHEUS_PACKAGES, "prometheus")
    from metarepo.manifest import load_manifest
    from metarepo.monitor.render import render_monitoring

    root = meta_repo(tmp_path / "meta", {env: {}}, {"services/orders": {"slo": ORDERS_SLO}})
    rendering = render_monitoring(load_manifest(root), env)
    rules = tmp_path / "orders.yml"
    rules.write_text(rendering.files["rules/orders.yml"])
    tests = tmp_path / "tests.yml"
    # 1/6 of requests fail: both alerts. 0.5%: under the 1% budget, none. A template in the environment's
    # name is text: Prometheus expands the labels and annotations, and this one must come out as written.
    tests.write_text(RULE_TESTS.format(rules=json.dumps(str(rules)), env=env.replace("'", "''")))
    proc = subprocess.run([shutil.which("promtool"), "test", "rules", str(tests)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_real_prometheus_runs_the_rendered_folder_and_its_alerts_reach_the_gate(meta, tmp_path, prometheus,
                                                                                   alertmanager):
    from metarepo.monitor.gate import AnalysisGate
    from metarepo.monitor.settings import analysis_settings

    manager = alertmanager()
    with metrics_endpoint() as endpoint:
        monitoring = {"discovery": "nodes", "nodes": ["127.0.0.1"], "alertmanager": manager.url}
        root = meta_repo(tmp_path / "meta", {"staging": {"monitoring": monitoring}},
                         {"services/orders": {"metrics": {"port": endpoint.port}, "slo": ORDERS_SLO}})
        out = tmp_path / "out"
        proc = meta("monitor", "render", "staging", "-o", str(out), cwd=root)
        assert proc.returncode == 0, proc.stderr
        # the rendered files as they are, but every 1s rather than 15s
        files = {str(p.relative_to(out)): p.read_text().replace(": 15s", ": 1s") for p in out.rglob("*.yml")}
        server = prometheus(files.pop("prometheus.yml"), files=files)

        stop = threading.Event()

        def traffic() -> None:  # 1 request in 3 fails: past every burn rate
            ok = failed = 0
            while not stop.is_set():
                ok, failed = ok + 20, failed + 10
                endpoint.set("http_requests_total", ok, code="200")
                endpoint.set("http_requests_total", failed, code="500")
                stop.wait(0.25)

        thread = threading.Thread(target=traffic, daemon=True)
        thread.start()
        try:
            [series] = server.wait_for('http_requests_total{code="500"}')
            assert {k: series["metric"][k] for k in ("service", "project", "environment", "job")} == {
                "service": "orders", "project": "services/orders", "environment": "staging", "job": "staging"}
            server.wait_for('service:slo_errors_per_request:ratio_rate5m{service="orders"} > 0.3')
            deadline = time.monotonic() + 60
            while not (firing := manager.alerts(service="orders")) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            stop.set()
            thread.join()
    assert sorted(a["labels"]["severity"] for a in firing) == ["page", "ticket"]
    analysis = analysis_settings("staging", {"monitoring": {"alertmanager": manager.url}, "alerts": True})
    release = SimpleNamespace(service="orders", version="1.0.0", sha="1" * 40, project="services/orders")
    verdict = AnalysisGate(analysis).after(release)
    assert not verdict.ok and verdict.reason.startswith("alerts failed: alert ErrorBudgetBurn (severity ")
