"""The namespaces and engines these tests make are gone afterwards, even when the test using them failed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.images.engine import mounts_under
from tests.netns.cluster import running_cluster
from tests.netns.prerequisites import require
from tests.netns.images import build_and_push, httpd_context
from tests.netns.namespaces import Namespace, leftovers, pids_in, popen_in, reap_stale, wired_namespaces
from tests.netns.namespaces import process_alive as alive
from tests.netns.probes import fetch, wait_for_replies
from tests.netns.services import wait_running, web_service

pytestmark = pytest.mark.docker


def descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            children = [int(word) for word in task.read_text().split()]
            found.extend(children)
            queue.extend(children)
    return found


def test_hosts_reach_each_other_through_the_switch_and_a_failure_leaves_nothing():
    require()
    with pytest.raises(RuntimeError, match="the test failed"):
        with wired_namespaces(2, subnet="10.231.9") as wiring:
            one, two = wiring.hosts
            server = popen_in(one.namespace, [sys.executable, "-m", "http.server", "--bind", one.address, "8000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            url = f"http://{one.address}:8000/"
            assert wait_for_replies(two.namespace, url, bool)[0].ok
            assert fetch(wiring.switch, url)[0].ok
            assert fetch(two.namespace, "http://127.0.0.1:8000/")[0].status is None  # loopback is per namespace
            names = [wiring.switch.name, one.namespace.name, two.namespace.name]
            assert pids_in(one.namespace) == [server.pid]
            raise RuntimeError("the test failed")
    server.wait(10)  # killed with its namespace
    assert not any(os.path.exists(f"/run/netns/{name}") for name in names)
    assert not leftovers(names[0].rsplit("-", 1)[0])


def test_an_engine_whose_test_failed_is_stopped_and_leaves_nothing(tmp_path: Path):
    require()
    with pytest.raises(RuntimeError, match="the test failed"):
        with running_cluster(1, subnet="10.231.8") as cluster:
            client = cluster.client()
            image = build_and_push(client, httpd_context(tmp_path / "httpd", cluster.busybox),
                                   f"{cluster.registry}/netns/httpd:1")
            web_service(client, "web", image, replicas=1, published=8080)
            wait_running(client, "web", 1)
            client.close()
            pids = [cluster.manager.pid, *descendants(cluster.manager.pid)]  # containerd, shims, the task
            assert len(pids) >= 4
            base = cluster.manager.base.parent
            names = [cluster.switch.name, cluster.manager.node.namespace.name]
            assert mounts_under(base)
            raise RuntimeError("the test failed")
    assert not [pid for pid in pids if alive(pid)]
    assert not base.exists() and not mounts_under(base)
    assert not any(os.path.exists(f"/run/netns/{name}") for name in names)


def test_a_killed_runs_namespaces_are_reaped_and_a_live_runs_are_not():
    require()
    gone = subprocess.Popen(["true"])
    gone.wait()  # a run that is over: its pid is not alive any more
    stale, live = Namespace(f"mtnet-{gone.pid}-dead-sw"), Namespace(f"mtnet-{os.getpid()}-live-sw")
    for namespace in (stale, live):
        subprocess.run(["ip", "netns", "add", namespace.name], check=True)
    try:
        left_running = popen_in(stale, ["sleep", "300"])
        assert stale.name in reap_stale()
        assert left_running.wait(20) != 0  # killed with its namespace
        assert live.name in leftovers()  # its run (this one) is alive
        assert not os.path.exists(stale.path)
    finally:
        for namespace in (stale, live):
            if os.path.exists(namespace.path):
                subprocess.run(["ip", "netns", "delete", namespace.name], check=False)
