"""netns_swarm: three engines on one bridge, one task per node, a proxy reaching all of them over the overlay."""

from __future__ import annotations

import pytest

from tests.netns.cluster import node_states, node_stopped
from tests.netns.probes import fetch, wait_for_replies
from tests.netns.services import overlay_network, proxy_service, running_tasks, wait_running, web_service

pytestmark = pytest.mark.docker


def nodes_answering(replies) -> set[str]:
    return {r.body.split()[1] for r in replies}


@pytest.fixture
def spread_web(netns_swarm, netns_swarm_images, netns_swarm_client):
    """web: three tasks, at most one per node; HAProxy on node1 in front of them, published on node1:8082."""
    client = netns_swarm_client
    overlay_network(client, "edge")
    web_service(client, "web", netns_swarm_images.httpd, networks=["edge"], replicas=3, max_per_node=1)
    proxy_service(client, "proxy", netns_swarm_images.haproxy, network="edge", backend="web", published=8082)
    wait_running(client, "web", 3)
    wait_running(client, "proxy", 1)
    return f"http://{netns_swarm.manager.node.address}:8082/"


def test_the_nodes_form_one_swarm(netns_swarm):
    assert node_states(netns_swarm) == {"node1": "ready", "node2": "ready", "node3": "ready"}
    client = netns_swarm.client()
    roles = {n.attrs["Description"]["Hostname"]: n.attrs["Spec"]["Role"] for n in client.nodes.list()}
    client.close()
    assert roles == {"node1": "manager", "node2": "worker", "node3": "worker"}


def test_a_request_through_the_proxy_reaches_a_task_on_every_node(netns_swarm, netns_swarm_client, spread_web):
    client = netns_swarm_client
    tasks = running_tasks(client, "web")
    node_of = {n.id: n.attrs["Description"]["Hostname"] for n in client.nodes.list()}
    assert sorted(node_of[t["NodeID"]] for t in tasks) == ["node1", "node2", "node3"]
    # the client sits on the switch, outside every node; the proxy on node1 reaches node2 and node3 over VXLAN
    seen = wait_for_replies(netns_swarm.switch, spread_web,
                            lambda replies: nodes_answering(replies) == {"node1", "node2", "node3"},
                            what="a task on each node through the proxy")
    assert {r.body.split()[0].split(".")[0] for r in seen} == {"web"}


def test_a_stopped_node_is_seen_down_and_comes_back(netns_swarm, netns_swarm_client, spread_web):
    client = netns_swarm_client
    wait_for_replies(netns_swarm.switch, spread_web, lambda replies: "node3" in nodes_answering(replies))
    with node_stopped(netns_swarm, "node3"):
        assert node_states(netns_swarm)["node3"] == "down"
        # the proxy drops the lost task: a whole batch of requests answered by the nodes that are left
        wait_for_replies(netns_swarm.switch, spread_web,
                         lambda replies: len(replies) >= 8 and nodes_answering(replies[-8:]) == {"node1", "node2"},
                         what="the proxy without node3")
        replies = fetch(netns_swarm.switch, spread_web, count=8)
        assert all(r.ok for r in replies) and nodes_answering(replies) == {"node1", "node2"}
    assert node_states(netns_swarm) == {"node1": "ready", "node2": "ready", "node3": "ready"}
    # one task per node: the third replica waited for node3, and runs there again
    wait_running(client, "web", 3)
    wait_for_replies(netns_swarm.switch, spread_web, lambda replies: "node3" in nodes_answering(replies[-8:]),
                     what="node3's task through the proxy again")
    assert all(r.ok for r in fetch(netns_swarm.switch, spread_web, count=6))
