"""A proxy as a swarm service on an overlay network, routing to every task of a dnsrr service by DNS."""

from __future__ import annotations

import pytest

from tests.netns.prerequisites import skip_or_fail
from tests.netns.probes import fetch, wait_for_replies
from tests.netns.services import (PROXY_UP, overlay_network, proxy_service, scale, task_names, wait_running,
                                  web_service)

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("kind", ["haproxy", "nginx"])
def test_the_proxy_reaches_both_tasks_through_tasks_dns(kind, netns_engine, netns_engine_images, netns_engine_client):
    image = getattr(netns_engine_images, kind)
    if image is None:
        skip_or_fail(f"{kind} is not installed (apt-get install {kind})")
    client = netns_engine_client
    overlay_network(client, "edge")
    web_service(client, "web", netns_engine_images.httpd, networks=["edge"], replicas=2)
    proxy_service(client, "proxy", image, kind=kind, network="edge", backend="web", published=8081)
    names = task_names(wait_running(client, "web", 2), "web")
    wait_running(client, "proxy", 1)
    namespace = netns_engine.manager.node.namespace

    up = f"http://127.0.0.1:8081{PROXY_UP}"
    wait_for_replies(namespace, up, bool, what=f"{kind} itself")
    assert all(r.ok for r in fetch(namespace, up, count=4))
    seen = wait_for_replies(namespace, "http://127.0.0.1:8081/",
                            lambda replies: {r.body.split()[0] for r in replies} >= names, what=f"{kind} -> web")
    assert {r.body.split()[0] for r in seen} == names

    # one more replica: the proxy finds it by DNS, nobody tells it
    scale(client, "web", 3)
    names = task_names(wait_running(client, "web", 3), "web")
    wait_for_replies(namespace, "http://127.0.0.1:8081/",
                     lambda replies: {r.body.split()[0] for r in replies[-12:]} == names, what="the third task")
    assert all(r.ok for r in fetch(namespace, "http://127.0.0.1:8081/", count=6))
