"""A release that passes its HEALTHCHECK but whose own metrics break the analysis: rolled back with its batch.

Why here and not with the other rollout tests: the engine of tests/images
runs with ``--bridge=none``, so its containers have no network and nothing
can scrape them. This uses ``netns_engine``, a dockerd with real
networking in a network namespace the suite made (tests/netns), and puts
the whole monitoring path on that node:

- the services are FROM scratch busybox images: ``busybox httpd`` serves a
  page (the HEALTHCHECK fetches it) and ``/metrics``, a file of request
  counters baked into the image, so a "bad" version is one whose counters
  show errors while its health check passes;
- a real Prometheus runs inside the node's namespace (``nsenter --net``,
  tests/netns/monitoring.py), finds each task's container through Docker
  discovery on the engine's socket and scrapes it on the default bridge
  every second, labelling each series with its service and version as
  ``meta monitor render``'s configs do;
- ``meta rollout`` runs inside the namespace too, so the analysis reaches
  that Prometheus at 127.0.0.1, as it would on a manager node; ``meta
  build`` talks to the engine over its socket from the host.

Prometheus hands newly discovered targets to its scrapers every 5 s (fixed
in its code), so a new task's first samples can come some seconds after it
started: the checks begin 2 s after convergence (Swarm's monitor window has
already passed by then) and tolerate up to 3 "no series yet" readings
(``inconclusive_limit``) before the first real one decides.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import git, run_meta
from tests.netns.monitoring import meta_in, prometheus_in
from tests.netns.services import running_tasks
from tests.servers.fixtures import require
from tests.servers.prometheus import PACKAGES as PROMETHEUS_PACKAGES

pytestmark = pytest.mark.docker

SERVE = """#!/bin/busybox sh
/bin/busybox mkdir -p /www
echo "$(/bin/busybox hostname) up" > /www/index.html
/bin/busybox httpd -f -p 80 -h /www &
trap 'kill $!; exit 0' TERM INT
wait
"""
DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
COPY serve.sh /serve.sh
COPY metrics /www/metrics
HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD ["/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
ENTRYPOINT ["/bin/busybox", "sh", "/serve.sh"]
"""


def counters(ok: int, errors: int) -> str:
    return (f'# TYPE http_requests_total counter\nhttp_requests_total{{code="200"}} {ok}\n'
            f'http_requests_total{{code="500"}} {errors}\n')


ERROR_RATIO = {
    "name": "error-ratio",
    "query": 'sum(http_requests_total{service="{service}",version="{version}",code=~"5.."}) / '
             'sum(http_requests_total{service="{service}",version="{version}"})',
    "success": "< 0.05", "initial_delay": 2, "interval": 1, "count": 4, "inconclusive_limit": 3,
}


@pytest.fixture(scope="module")
def scraping(netns_engine, netns_engine_images):
    # (the images, which the other netns tests use too, are asked for first so the engine has made its
    # docker_gwbridge before a test's client notes what exists: it is the engine's, not the test's)
    require(PROMETHEUS_PACKAGES, "prometheus")
    with prometheus_in(netns_engine.manager.node.namespace, netns_engine.host) as prometheus:
        yield prometheus


def web_fleet(tmp_path: Path, netns_engine, prometheus_url: str) -> Path:
    """Two busybox web services, catalog then checkout, and a meta repo whose staging analyses them."""
    from make_fleet import publish

    remotes = tmp_path / "remotes"
    names = ("catalog", "checkout")
    for name in names:
        src = tmp_path / "src" / name
        src.mkdir(parents=True)
        shutil.copy2(netns_engine.busybox, src / "busybox")
        (src / "serve.sh").write_text(SERVE)
        (src / "Dockerfile").write_text(DOCKERFILE)
        (src / "metrics").write_text(counters(1000, 0))
        publish(src, remotes / f"{name}.git")
    update = {"parallelism": 1, "delay": 0, "monitor": 1, "order": "start-first"}
    plain = {"target": "swarm", "replicas": 1, "timeout": 90, "update": update}
    manifest = {
        "projects": {f"web/{n}": f"file://{remotes}/{n}.git" for n in names},
        "metarepo": {"defaults": {"registry": f"{netns_engine.registry}/mon", "metrics": {"port": 80}},
                     "environments": {
                         "bootstrap": plain,
                         "staging": {**plain, "monitoring": {"prometheus": prometheus_url, "timeout": 2},
                                     "analysis": [ERROR_RATIO]}}}}
    meta = tmp_path / "meta"
    meta.mkdir()
    (meta / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
    publish(meta, remotes / "meta.git")
    proc = run_meta("clone", f"file://{remotes}/meta.git", str(tmp_path / "ws"))
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "ws"


def change(project: Path, metrics: str, message: str) -> None:
    (project / "metrics").write_text(metrics)
    git("commit", "-qam", message, cwd=project)


def test_a_healthy_release_whose_metrics_break_the_analysis_is_rolled_back_with_its_batch(
        tmp_path, netns_engine, netns_engine_client, scraping):
    client, env = netns_engine_client, netns_engine.env
    namespace = netns_engine.manager.node.namespace
    ws = web_fleet(tmp_path, netns_engine, scraping.url)
    built = run_meta("build", "--push", cwd=ws, env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    first = meta_in(namespace, "rollout", "bootstrap", cwd=ws, env=env)  # version one, no analysis
    assert first.returncode == 0, first.stdout + first.stderr
    before = {name: client.services.get(name).attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
              for name in ("catalog", "checkout")}

    change(ws / "web/catalog", counters(2000, 10), "catalog: fine, 0.5% errors")
    change(ws / "web/checkout", counters(1000, 600), "checkout: healthy, and 37.5% of its requests fail")
    built = run_meta("build", "--push", cwd=ws, env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    proc = meta_in(namespace, "rollout", "staging", "--json", cwd=ws, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    steps = {s["service"]: s for s in json.loads(proc.stdout)["services"]}

    catalog, checkout = steps["catalog"], steps["checkout"]
    assert catalog["state"] == "rolled back"  # it passed its analysis and went live; the batch goes back together
    passed = [m for m in catalog["measurements"] if m["reading"] == "passed"]
    assert passed and {m["value"] for m in passed} == {10 / 2010}
    assert {m["reading"] for m in catalog["measurements"]} <= {"passed", "inconclusive"}

    assert checkout["state"] == "failed"
    assert checkout["detail"].startswith("analysis: error-ratio failed: 0.375 is not < 0.05 (1 of ")
    assert "; rolled back to " in checkout["detail"]
    *waiting, failed = checkout["measurements"]
    assert (failed["check"], failed["reading"], failed["value"]) == ("error-ratio", "failed", 0.375)
    assert all(m["reading"] == "inconclusive" and m["value"] is None for m in waiting)  # not scraped yet
    assert failed["at"] >= 2  # initial_delay

    # health checks never failed: Swarm would have kept both; the analysis put back the old images
    for name, image in before.items():
        assert client.services.get(name).attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == image
        assert len(running_tasks(client, name)) == 1
    assert not (ws / "environments/staging.json").exists()
    # and what Prometheus scraped from the bad release is there to see
    [seen] = scraping.query('max_over_time(http_requests_total{service="checkout",code="500"}[5m]) == 600')
    assert seen["metric"]["version"] == git("rev-parse", "HEAD", cwd=ws / "web/checkout")
