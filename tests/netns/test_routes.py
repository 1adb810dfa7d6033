"""The rendered edge configurations route for real: hosts, paths and prefix stripping, HAProxy and nginx alike.

``meta proxy render`` writes the config; it runs unchanged (nginx's
http-context file inside a minimal nginx.conf) as a swarm service on the
single-node netns engine, in front of busybox web services found as
``tasks.<service>``. Each reply names the task that answered, so which
service a request reached is plain.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from metarepo.manifest import load_manifest
from metarepo.proxy.render import render_edge

from tests.netns.namespaces import run_in
from tests.netns.prerequisites import skip_or_fail
from tests.netns.services import NGINX_MAIN, overlay_network, proxy_service, wait_running, web_service
from tests.proxy.fleet import write_meta

pytestmark = pytest.mark.docker

ROUTES = {"services/shop": {"route": {"hosts": ["shop.test"]}, "port": 80},
          "services/api": {"route": {"path": "/api", "strip": True}, "port": 80},
          "services/admin": {"route": {"hosts": ["shop.test"], "path": "/admin", "strip": True}, "port": 80},
          "services/home": {"route": {}, "port": 80}}
# argv: url, then (host header, path) pairs as JSON: prints [status, first word of the body] per request
_ASK = r"""
import json, sys, urllib.error, urllib.request
base, pairs = sys.argv[1], json.loads(sys.argv[2])
out = []
for host, path in pairs:
    request = urllib.request.Request(base + path, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            out.append([reply.status, reply.read().decode().split()[0].split(".")[0]])
    except urllib.error.HTTPError as error:
        out.append([error.code, ""])
    except Exception as error:
        out.append([None, type(error).__name__])
print(json.dumps(out))
"""


def ask(namespace, url: str, pairs: list[tuple[str, str]]) -> list[tuple[int | None, str]]:
    proc = run_in(namespace, [sys.executable, "-c", _ASK, url, json.dumps(pairs)], timeout=120)
    return [tuple(item) for item in json.loads(proc.stdout)]


@pytest.mark.parametrize("kind", ["haproxy", "nginx"])
def test_hosts_paths_and_stripped_prefixes_reach_the_right_service(kind, tmp_path: Path, netns_engine,
                                                                    netns_engine_images, netns_engine_client):
    image = getattr(netns_engine_images, kind)
    if image is None:
        skip_or_fail(f"{kind} is not installed (apt-get install {kind})")
    client = netns_engine_client
    root = write_meta(tmp_path, ROUTES, {"staging": {"proxy": {"kind": kind, "network": "edge",
                                                              "monitor_uri": "/proxy-up"}}})
    routes = render_edge(load_manifest(root), "staging").text
    config = routes if kind == "haproxy" else NGINX_MAIN.format(http=routes)
    overlay_network(client, "edge")
    for name in ("shop", "api", "admin", "home"):
        web_service(client, name, netns_engine_images.httpd, networks=["edge"], replicas=1)
    proxy_service(client, "edge-proxy", image, kind=kind, network="edge", backend="home", published=8083,
                  config=config)
    for name in ("shop", "api", "admin", "home", "edge-proxy"):
        wait_running(client, name, 1)
    url = "http://127.0.0.1:8083"
    namespace = netns_engine.manager.node.namespace
    wanted = [("shop.test", "/"), ("SHOP.test:8083", "/"), ("other.test", "/"), ("other.test", "/api/"),
              ("shop.test", "/api"), ("shop.test", "/admin/"), ("other.test", "/admin/"), ("x", "/proxy-up")]
    expected = [(200, "shop"), (200, "shop"), (200, "home"), (200, "api"), (200, "api"), (200, "admin"),
                (404, "")]
    for _ in range(60):  # until the proxy has found every task by DNS
        replies = ask(namespace, url, wanted)
        if replies[:-1] == expected:
            break
    assert replies[:-1] == expected and replies[-1][0] == 200  # the last: the proxy's own monitor URI
