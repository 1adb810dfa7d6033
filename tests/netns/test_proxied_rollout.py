"""`meta rollout` of a routed fleet across the three-node swarm, through the HAProxy `meta proxy render` writes.

One fleet for the module (two routed services, three tasks each, one per
node), an HAProxy swarm service on node1 running the rendered config, and
requests sent from the switch namespace, outside every node, as a browser
would. Each test moves the fleet on from where the last one left it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metarepo.images.swarm_tasks import NodeEngines, TaskReader

from tests.netns.cluster import node_stopped
from tests.netns.fleet import EDGE, build, git_env, make_proxied_fleet, meta, release, service_images
from tests.netns.probes import probing, wait_for_replies
from tests.netns.services import overlay_network, proxy_service, removed_afterwards, running_tasks, wait_running

pytestmark = pytest.mark.docker

ROUTES = {"web": {"path": "/"}, "api": {"path": "/api", "strip": True}}
PROXY_PORT = 8090
LOOP = 2000  # requests at least, through the proxy, during each update
AFTER = 100  # requests after the rollout has ended: what the proxy serves once it is over


class Edge:
    def __init__(self, cluster, client, root: Path, base_image: str):
        self.cluster, self.client, self.root, self.base = cluster, client, root, base_image
        self.url = f"http://{cluster.manager.node.address}:{PROXY_PORT}/"
        self.releases = {name: 1 for name in ROUTES}

    def release(self, name: str, *, broken: bool = False) -> str:
        self.releases[name] += 1
        return release(self.root, name, self.releases[name], self.base, broken=broken)

    def images(self) -> dict[str, str]:
        return service_images(self.client, ROUTES)

    def nodes_of(self, service: str) -> list[str]:
        hostnames = {n.id: n.attrs["Description"]["Hostname"] for n in self.client.nodes.list()}
        return sorted(hostnames[t["NodeID"]] for t in running_tasks(self.client, service))


@pytest.fixture(scope="module")
def edge(netns_swarm, netns_swarm_images, tmp_path_factory):
    client = netns_swarm.client()
    try:
        with removed_afterwards(client, seconds=90):
            overlay_network(client, EDGE)
            root = make_proxied_fleet(tmp_path_factory.mktemp("proxied"), netns_swarm, netns_swarm_images.httpd,
                                      ROUTES)
            build(netns_swarm, root)
            proc = meta(netns_swarm, "rollout", "staging", cwd=root)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            rendered = meta(netns_swarm, "proxy", "render", "staging", cwd=root)
            assert rendered.returncode == 0, rendered.stderr
            proxy_service(client, "edge-proxy", netns_swarm_images.haproxy, network=EDGE, backend="web",
                          published=PROXY_PORT, config=rendered.stdout)  # what `meta proxy render` wrote
            wait_running(client, "edge-proxy", 1)
            found = Edge(netns_swarm, client, root, netns_swarm_images.httpd)
            wait_for_replies(netns_swarm.switch, found.url, lambda replies: len({
                r.body.split()[0] for r in replies}) == 3, what="web's three tasks through the proxy")
            yield found
    finally:
        client.close()


def _loop_during(edge: Edge, *args: str) -> tuple[subprocess.CompletedProcess[str], list]:
    """`meta rollout staging ARGS` while a request loop runs through the proxy, until both have done their part."""
    with probing(edge.cluster.switch, edge.url, pause=0, timeout=5) as probe:
        while len(probe.replies()) < 50:  # the loop is under way before the rollout starts
            time.sleep(0.1)
        proc = meta(edge.cluster, "rollout", "staging", *args, "--json", cwd=edge.root)
        wanted = max(LOOP, len(probe.replies()) + AFTER)
        deadline = time.monotonic() + 120
        while len(probe.replies()) < wanted and time.monotonic() < deadline:
            time.sleep(0.2)
    return proc, probe.replies()


def _releases(replies) -> list[str]:
    """The release each reply came from, in order, repeats folded."""
    seen: list[str] = []
    for reply in replies:
        word = reply.body.split()[-1] if reply.body else ""
        if not seen or seen[-1] != word:
            seen.append(word)
    return seen


def test_a_routed_fleet_runs_on_every_node_behind_the_proxy(edge) -> None:
    assert edge.nodes_of("web") == ["node1", "node2", "node3"] and edge.nodes_of("api") == ["node1", "node2",
                                                                                            "node3"]
    spec = edge.client.services.get("web").attrs["Spec"]
    assert spec["EndpointSpec"] == {"Mode": "dnsrr"}
    assert spec["Labels"]["traefik.http.services.web.loadbalancer.server.port"] == "80"
    assert spec["Labels"]["com.df.servicePath"] == "^/" and spec["Labels"]["traefik.swarm.network"] == EDGE
    network = edge.client.networks.get(EDGE)
    assert [n["Target"] for n in spec["TaskTemplate"]["Networks"]] == [network.id]
    replies = wait_for_replies(edge.cluster.switch, edge.url + "api/", lambda r: len(r) >= 3, what="api")
    assert {r.body.split()[-1] for r in replies} == {"api-1"}  # /api/ went to api, the prefix stripped off
    proc = meta(edge.cluster, "proxy", "check", "staging", "--against", "/dev/null", cwd=edge.root)
    assert proc.returncode == 1  # (the check itself is tested in tests/proxy; here: it runs against this fleet)


def test_no_request_fails_through_the_proxy_during_a_rolling_update(edge) -> None:
    edge.release("web")
    build(edge.cluster, edge.root, "web")
    before = edge.images()
    proc, replies = _loop_during(edge, "--include-only", "services/web")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    failed = [r for r in replies if not r.ok]
    assert len(replies) >= LOOP and failed == [], (len(replies), failed[:5])
    releases = [r.body.split()[-1] for r in replies]
    assert releases[0] == "web-1" and set(releases[-AFTER:]) == {"web-2"}  # the loop saw the update through
    assert edge.images()["web"] != before["web"]


def test_no_request_fails_during_an_update_that_fails_and_rolls_back(edge) -> None:
    live = f"web-{edge.releases['web']}"
    edge.release("web", broken=True)
    build(edge.cluster, edge.root, "web")
    before = edge.images()
    manager = edge.client.nodes.get(edge.cluster.manager.node.name)
    spec = manager.attrs["Spec"]
    manager.update({**spec, "Availability": "pause"})  # new tasks go to node2 and node3: read from their engines
    try:
        proc, replies = _loop_during(edge, "--include-only", "services/web")
    finally:
        manager.reload()
        manager.update({**manager.attrs["Spec"], "Availability": "active"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = [r for r in replies if not r.ok]
    assert len(replies) >= LOOP and failed == [], (len(replies), failed[:5])
    assert _releases(replies) == [live]  # the broken release never answered
    step = json.loads(proc.stdout)["services"][0]
    assert step["state"] == "failed" and "Swarm rolled it back" in step["detail"], step
    # read on the node that ran the task, from its own engine: the probe's own words
    assert "its health check failed (" in step["detail"] and "failing probes" in step["detail"], step
    assert " on node2" in step["detail"] or " on node3" in step["detail"], step
    assert edge.images() == before
    # without node_docker_host the manager's record is all there is, and the explanation says so
    tried = max((t for t in edge.client.api.tasks(filters={"service": "web"})
                 if t["Spec"]["ContainerSpec"]["Image"] != before["web"]
                 and t["Status"].get("ContainerStatus", {}).get("ContainerID")), key=lambda t: t["CreatedAt"])
    told = TaskReader(edge.client.api, NodeEngines(edge.client.api, None)).explain_task(tried)
    assert told.startswith("its task was stopped before it became healthy") and " on node" in told, told
    assert "its health probes could not be read: node" in told and "set node_docker_host" in told, told


def _update_started(client, service: str, since: str | None) -> bool:
    status = client.services.get(service).attrs.get("UpdateStatus") or {}
    return bool(status) and status.get("StartedAt") != since


def test_a_node_lost_mid_rollout_leaves_the_batch_all_rolled_out_or_all_rolled_back(edge) -> None:
    edge.release("web")
    edge.release("api")
    build(edge.cluster, edge.root, "web", "api")
    before = edge.images()
    record = (edge.root / "environments" / "staging.json").read_text()
    since = (edge.client.services.get("web").attrs.get("UpdateStatus") or {}).get("StartedAt")
    rollout = subprocess.Popen([sys.executable, "-m", "metarepo", "rollout", "staging", "--json"], cwd=edge.root,
                               env={**os.environ, **git_env(edge.cluster)}, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _update_started(edge.client, "web", since) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert rollout.poll() is None, "the rollout ended before the node could be stopped"
        with node_stopped(edge.cluster, "node3"):  # its engine stops: its tasks are lost with it
            out, err = rollout.communicate(timeout=300)
    finally:
        if rollout.poll() is None:
            rollout.kill()
            rollout.wait()
    steps = {s["service"]: s for s in json.loads(out)["services"]}
    after = edge.images()
    if rollout.returncode == 0:
        assert {s["state"] for s in steps.values()} == {"deployed"}, (steps, err)
        assert all(after[name] != before[name] for name in ROUTES), after
        assert (edge.root / "environments" / "staging.json").read_text() != record
    else:
        assert rollout.returncode == 1, err
        assert after == before, (steps, after)  # every service back as it was
        assert {s["state"] for s in steps.values()} <= {"failed", "rolled back", "not started"}, steps
        assert (edge.root / "environments" / "staging.json").read_text() == record
    for name in ROUTES:  # and what runs is what the specs say
        _wait_converged(edge.client, name, after[name])


def _wait_converged(client, service: str, image: str, replicas: int = 3, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while (images := sorted(t["Spec"]["ContainerSpec"]["Image"] for t in running_tasks(client, service))) != \
            [image] * replicas:
        assert time.monotonic() < deadline, f"{service} runs {images}, not {replicas} x {image}"
        time.sleep(0.5)
