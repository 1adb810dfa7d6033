"""netns_engine: one engine with real networking in its own namespace, serving a host-mode published port."""

from __future__ import annotations

import pytest

from tests.netns.probes import wait_for_replies
from tests.netns.services import running_tasks, task_names, wait_running, web_service

pytestmark = pytest.mark.docker


def test_a_dnsrr_service_answers_on_its_host_mode_port_from_inside_the_namespace(
        netns_engine, netns_engine_images, netns_engine_client):
    client = netns_engine_client
    node = netns_engine.manager.node
    assert client.info()["Name"] == "node1" and client.info()["Swarm"]["LocalNodeState"] == "active"

    web_service(client, "web", netns_engine_images.httpd, replicas=1, published=8080)
    tasks = wait_running(client, "web", 1)
    (name,) = task_names(tasks, "web")

    replies = wait_for_replies(node.namespace, "http://127.0.0.1:8080/", lambda r: bool(r), what="web on node1")
    assert replies[0].body.split() == [name, "node1", "1"]
    # and from outside the node, as a browser would: the switch reaches the node's own address
    replies = wait_for_replies(netns_engine.switch, f"http://{node.address}:8080/", lambda r: bool(r))
    assert replies[0].body.split()[0] == name
    assert [t["ID"] for t in running_tasks(client, "web")] == [tasks[0]["ID"]]
