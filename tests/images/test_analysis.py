"""`meta rollout` with analysis: alerts, inconclusive queries and an unreachable Prometheus, on the real engine.

The engine here has no container networking (``--bridge=none``), so these
rollouts measure nothing the services themselves serve: what they test is
what the rollout does with what the session's real Prometheus and
Alertmanager (``monitoring``) say. A release whose own metrics break the
analysis needs an engine with networking: tests/netns/test_rollout_analysis.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import git
from tests.images.conftest import commit_change, meta_docker, services
from tests.servers.process import free_port

pytestmark = pytest.mark.docker


def analyse(ws: Path, monitoring: dict, *, checks: list | None = None, **more) -> None:
    """Give the workspace's staging environment these monitoring and analysis settings, and commit them."""
    data = json.loads((ws / ".meta").read_text())
    staging = data["metarepo"]["environments"]["staging"]
    staging.update({"monitoring": monitoring, "analysis": checks or [], **more})
    (ws / ".meta").write_text(json.dumps(data, indent=2) + "\n")
    git("commit", "-qam", "analysis settings", cwd=ws)


@pytest.fixture
def ws(docker_workspace: Path, engine) -> Path:
    """The example fleet, pushing to a registry folder of its own: the registry outlives each test, and
    the other tests count the tags under demo/."""
    data = json.loads((docker_workspace / ".meta").read_text())
    data["metarepo"]["defaults"]["registry"] = f"{engine.registry}/analysed"
    (docker_workspace / ".meta").write_text(json.dumps(data, indent=2) + "\n")
    git("commit", "-qam", "a registry folder of its own", cwd=docker_workspace)
    return docker_workspace


def steps_of(proc) -> dict[str, dict]:
    return {s["service"]: s for s in json.loads(proc.stdout)["services"]}


def test_an_alert_firing_for_a_service_during_its_step_rolls_the_batch_back(ws: Path, engine,
                                                                           docker_client, monitoring):
    batch = ("--include-only", "orders,billing")
    assert meta_docker(engine, "build", "--push", *batch, cwd=ws).returncode == 0
    first = meta_docker(engine, "rollout", "staging", *batch, "--json", cwd=ws)
    assert first.returncode == 0, first.stdout + first.stderr
    before = services(docker_client)
    # "steady" keeps each service's analysis going for 2s, reading Alertmanager every half second
    analyse(ws, {"prometheus": monitoring.prometheus.url, "alertmanager": monitoring.alertmanager.url},
            checks=[{"name": "steady", "query": "vector(1)", "success": "== 1", "count": 5, "interval": 0.5}],
            alerts=True)
    record = (ws / "environments/staging.json").read_bytes()

    commit_change(ws / "services/orders", "README.md", "# orders\n\nalerted batch\n", "orders: two")
    commit_change(ws / "services/billing", "README.md", "# billing\n\nalerted batch\n", "billing: two")
    assert meta_docker(engine, "build", "--push", *batch, cwd=ws).returncode == 0
    alert = {"alertname": "BillingErrors", "service": "billing", "severity": "page"}
    posted = threading.Event()

    def alert_when_billing_moves() -> None:  # once the rollout has begun updating billing, as a real alert would
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if services(docker_client)["billing"]["image"] != before["billing"]["image"]:
                monitoring.alertmanager.post({"labels": alert})
                posted.set()
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=alert_when_billing_moves, daemon=True)
    watcher.start()
    try:
        proc = meta_docker(engine, "rollout", "staging", *batch, "--json", cwd=ws)
    finally:
        watcher.join(5)
        monitoring.alertmanager.post({"labels": alert, "endsAt": "2000-01-01T00:00:00Z"})  # resolved
    assert posted.is_set() and proc.returncode == 1, proc.stderr
    steps = steps_of(proc)
    assert steps["orders"]["state"] == "rolled back"
    assert [m["reading"] for m in steps["orders"]["measurements"] if m["gate"] == "alerts"] == ["passed"] * 5
    billing = steps["billing"]
    assert billing["state"] == "failed"
    assert billing["detail"].startswith("analysis: alerts failed: alert BillingErrors (severity page) firing")
    assert "; rolled back to " in billing["detail"]  # it had gone live: put back like the rest
    alerts = [m for m in billing["measurements"] if m["gate"] == "alerts"]
    assert alerts[-1]["reading"] == "failed" and alerts[-1]["value"] == ["BillingErrors"]
    after = services(docker_client)
    assert (after["orders"]["image"], after["billing"]["image"]) == (before["orders"]["image"],
                                                                    before["billing"]["image"])
    assert (ws / "environments/staging.json").read_bytes() == record


def test_an_inconclusive_query_is_handled_as_the_environment_says(ws: Path, engine, docker_client,
                                                                  monitoring):
    check = {"name": "errors", "query": 'metatest_never_scraped{service="{service}",version="{version}"}',
             "success": "< 0.05", "count": 3, "interval": 0.5}
    analyse(ws, {"prometheus": monitoring.prometheus.url}, checks=[check])  # inconclusive: rollback, the default
    assert meta_docker(engine, "build", "--push", "--include-only", "orders", cwd=ws).returncode == 0
    proc = meta_docker(engine, "rollout", "staging", "--include-only", "orders", "--json", cwd=ws)
    assert proc.returncode == 1, proc.stderr
    orders = steps_of(proc)["orders"]
    assert orders["state"] == "failed" and orders["detail"] == (
        "analysis: errors inconclusive: the query returned no series (1 of 1 measurement inconclusive, "
        "inconclusive_limit 0); inconclusive: rollback; removed (it was created by this rollout)")
    [measurement] = orders["measurements"]
    assert {k: measurement[k] for k in ("gate", "check", "reading", "value")} == {
        "gate": "analysis", "check": "errors", "reading": "inconclusive", "value": None}
    assert services(docker_client) == {} and not (ws / "environments").exists()

    analyse(ws, {"prometheus": monitoring.prometheus.url}, checks=[check], inconclusive="continue")
    proc = meta_docker(engine, "rollout", "staging", "--include-only", "orders", cwd=ws)
    assert proc.returncode == 0, proc.stderr
    assert "errors inconclusive (the query returned no series (1 of 1 measurement inconclusive, " \
           "inconclusive_limit 0)); carrying on (inconclusive: continue)" in proc.stderr
    assert re.search(r"^orders +analysis/errors +0\.\ds +no data +inconclusive +the query returned no series$",
                     proc.stdout, re.MULTILINE), proc.stdout
    assert set(services(docker_client)) == {"orders"}

    # A service the engine already runs as planned (its record gone, so the plan takes it again) is left as it
    # was: nothing new to measure, so the analysis that would now roll it back is not asked.
    analyse(ws, {"prometheus": monitoring.prometheus.url}, checks=[check], inconclusive="rollback")
    git("rm", "-q", "environments/staging.json", cwd=ws)
    git("commit", "-qm", "forget staging", cwd=ws)
    proc = meta_docker(engine, "rollout", "staging", "--include-only", "orders", "--json", cwd=ws)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    orders = steps_of(proc)["orders"]
    assert (orders["state"], orders["measurements"]) == ("unchanged", [])
    assert set(services(docker_client)) == {"orders"}


def test_an_unreachable_prometheus_is_one_line_and_handled_as_inconclusive(ws: Path, engine,
                                                                          docker_client):
    closed = f"http://127.0.0.1:{free_port()}"
    analyse(ws, {"prometheus": closed, "timeout": 1},
            checks=[{"name": "errors", "query": "up", "success": "== 1", "count": 10, "interval": 1}])
    assert meta_docker(engine, "build", "--push", "--include-only", "orders", cwd=ws).returncode == 0
    started = time.monotonic()
    proc = meta_docker(engine, "rollout", "staging", "--include-only", "orders", cwd=ws)
    assert proc.returncode == 1
    said = f"Prometheus at {closed} is unreachable (connection refused)"
    assert [line for line in proc.stderr.splitlines() if said in line] == [
        f"orders: errors @0.0s: no data error ({said})"]
    assert services(docker_client) == {}
    assert time.monotonic() - started < 60  # the first error decided it: no waiting out ten measurements
