"""A proxied Swarm environment's networking, decided from the manifest alone: refused before anything moves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metarepo.errors import ManifestError
from metarepo.images.swarm_network import (EnvironmentNetworking, PublishedPort, endpoint_key, environment_networking,
                                           published_ports, service_networking)
from metarepo.images.swarm_tasks import node_engines_setting
from metarepo.proxy.labels import route_labels, traefik_rule
from metarepo.proxy.settings import ProxySettings, read_route

from tests.conftest import git

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/metarepo-test.sock"}
PROXIED = {"target": "swarm", "endpoint_mode": "dnsrr", "proxy": {"kind": "haproxy", "network": "edge"}}


def test_an_environment_without_networking_settings_leaves_services_alone() -> None:
    plain = environment_networking("staging", {"target": "swarm"})
    assert plain == EnvironmentNetworking("staging") and not plain.explicit
    assert not service_networking("services/a", {"route": {"path": "/a"}}, plain).managed
    published = service_networking("services/a", {"publish": ["8080:80"]}, plain)  # ports asked for: managed
    assert published.managed and published.endpoint == {"Mode": "vip", "Ports": [
        {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"}]}


def test_dnsrr_publishes_in_host_mode_and_refuses_the_routing_mesh() -> None:
    assert environment_networking("e", {"endpoint_mode": "dnsrr"}).publish_mode == "host"
    with pytest.raises(ManifestError, match=r"e\.publish_mode: Swarm cannot publish through the routing mesh"):
        environment_networking("e", {"endpoint_mode": "dnsrr", "publish_mode": "ingress"})
    with pytest.raises(ManifestError, match=r"e\.endpoint_mode: must be vip or dnsrr"):
        environment_networking("e", {"endpoint_mode": "mesh"})


@pytest.mark.parametrize("publish, key", [("8080:80", "publish"), (["80"], "publish[0]"), (["80:80/icmp"], "publish[0]"),
                                          ([{"published": 0, "target": 80}], "publish[0].published"),
                                          ([{"published": 80, "target": 80, "mode": "host"}], "publish[0]")])
def test_a_bad_published_port_names_its_key(publish, key) -> None:
    with pytest.raises(ManifestError) as caught:
        published_ports("services/a", {"publish": publish})
    assert caught.value.key == f"metarepo.projects.services/a.{key}"


def test_published_ports_in_either_form() -> None:
    assert published_ports("a", {"publish": ["8080:80", "53:53/udp", {"published": 9000, "target": 9001}]}) == (
        PublishedPort(8080, 80), PublishedPort(53, 53, "udp"), PublishedPort(9000, 9001))


def test_a_routed_service_of_a_proxied_environment_joins_the_network_with_the_proxies_labels() -> None:
    env = environment_networking("staging", PROXIED)
    net = service_networking("services/orders", {"route": {"hosts": ["api.acme.io"], "path": "/orders",
                                                           "port": 8080, "strip": True}}, env)
    assert net.managed and net.networks == ("edge",) and net.endpoint == {"Mode": "dnsrr"}
    assert net.labels["traefik.http.routers.orders.rule"] == \
        "Host(`api.acme.io`) && (Path(`/orders`) || PathPrefix(`/orders/`))"
    assert net.labels["traefik.http.services.orders.loadbalancer.server.port"] == "8080"
    assert net.labels["traefik.http.middlewares.orders-strip.stripprefix.prefixes"] == "/orders"
    assert (net.labels["traefik.docker.network"], net.labels["traefik.swarm.network"]) == ("edge", "edge")
    assert {k: v for k, v in net.labels.items() if k.startswith("com.df.")} == {
        "com.df.notify": "true", "com.df.distribute": "true", "com.df.port": "8080",
        "com.df.servicePath": "^/orders(/|$)", "com.df.pathType": "path_reg",
        "com.df.serviceDomain": "api.acme.io", "com.df.reqPathSearchReplace": "^/orders/?,/"}
    unrouted = service_networking("services/worker", {}, env)  # in the environment, not behind the proxy
    assert unrouted.managed and unrouted.networks == () and not unrouted.labels


def test_traefik_rules_for_each_kind_of_route() -> None:
    def rule(route):
        return traefik_rule(read_route("a/x", {"route": route}))

    assert rule({}) == "PathPrefix(`/`)"
    assert rule({"hosts": ["a.io", "b.io"]}) == "Host(`a.io`) || Host(`b.io`)"
    assert rule({"hosts": ["a.io", "b.io"], "path": "/v1"}) == \
        "(Host(`a.io`) || Host(`b.io`)) && (Path(`/v1`) || PathPrefix(`/v1/`))"
    labels = route_labels(read_route("a/x", {"route": {"check": "/health"}}), ProxySettings("e", "traefik",
                                                                                             entrypoints=("web",)))
    assert labels["traefik.http.services.x.loadbalancer.healthcheck.path"] == "/health"
    assert labels["traefik.http.routers.x.entrypoints"] == "web" and "com.df.serviceDomain" not in labels


def test_a_service_that_would_publish_a_port_behind_the_proxy_is_refused_unless_exposed() -> None:
    env = environment_networking("staging", PROXIED)
    with pytest.raises(ManifestError) as caught:
        service_networking("services/a", {"route": {}, "publish": ["8080:80"]}, env)
    assert str(caught.value).startswith("metarepo.projects.services/a.publish: would publish 8080:80 itself in "
                                        "staging, whose services are reached through its haproxy proxy")
    exposed = service_networking("services/a", {"route": {}, "publish": ["8080:80"], "expose": True}, env)
    assert endpoint_key(exposed.endpoint) == ("dnsrr", (("tcp", 80, 8080, "host"),))


def test_endpoint_keys_compare_what_the_engine_echoes() -> None:
    assert endpoint_key(None) == endpoint_key({"Mode": "vip"}) == ("vip", ())
    assert endpoint_key({"Mode": "dnsrr", "Ports": [{"TargetPort": 80, "PublishedPort": 81, "PublishMode": "host"}]}) \
        == ("dnsrr", (("tcp", 80, 81, "host"),))


def test_node_engines_are_a_template_or_a_map() -> None:
    assert node_engines_setting("e", {"node_docker_host": "ssh://deploy@{hostname}"}) == "ssh://deploy@{hostname}"
    assert node_engines_setting("e", {"node_docker_host": {"node2": "tcp://10.0.0.2:2376"}}) == {
        "node2": "tcp://10.0.0.2:2376"}
    for bad in ("ssh://{user}@{hostname}", ["x"], {"node2": 3}):
        with pytest.raises(ManifestError, match=r"e\.node_docker_host: "):
            node_engines_setting("e", {"node_docker_host": bad})


def _proxied(workspace: Path, orders: dict) -> None:
    data = json.loads((workspace / ".meta").read_text())
    data["metarepo"]["environments"]["staging"].update(PROXIED)
    data["metarepo"]["projects"]["services/orders"].update(orders)
    (workspace / ".meta").write_text(json.dumps(data, indent=2) + "\n")
    git("commit", "-qam", "proxied staging", cwd=workspace)


def test_a_dry_run_shows_the_networks_endpoint_and_labels_it_would_apply(workspace: Path, meta) -> None:
    _proxied(workspace, {"route": {"hosts": ["shop.acme.io"], "path": "/orders"}})
    proc = meta("rollout", "staging", "--dry-run", "--include-only", "services/orders", "--json", cwd=workspace,
                env=NO_ENGINE)
    assert proc.returncode == 0, proc.stderr
    spec = json.loads(json.loads(proc.stdout)["services"][0]["detail"])
    assert spec["Networks"] == ["edge"] and spec["EndpointSpec"] == {"Mode": "dnsrr"}
    assert spec["Labels"]["traefik.http.routers.orders.rule"].startswith("Host(`shop.acme.io`)")
    assert spec["Labels"]["io.metarepo.project"] == "services/orders"


def test_meta_rollout_refuses_a_published_port_behind_the_proxy_before_asking_any_engine(workspace: Path,
                                                                                         meta) -> None:
    _proxied(workspace, {"route": {"path": "/orders"}, "publish": ["8080:8080"]})
    proc = meta("rollout", "staging", "--include-only", "services/orders", cwd=workspace, env=NO_ENGINE)
    assert proc.returncode == 2
    assert proc.stderr.startswith("meta: metarepo.projects.services/orders.publish: would publish 8080:8080 itself")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Docker engine" not in proc.stderr


def test_meta_rollout_refuses_two_projects_claiming_one_route(workspace: Path, meta) -> None:
    _proxied(workspace, {"route": {"path": "/shop"}})
    data = json.loads((workspace / ".meta").read_text())
    data["metarepo"]["projects"]["services/billing"]["route"] = {"path": "/shop/"}
    (workspace / ".meta").write_text(json.dumps(data, indent=2) + "\n")
    proc = meta("rollout", "staging", "--include-only", "services/orders", "--dry-run", cwd=workspace, env=NO_ENGINE)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("meta: metarepo.projects.services/billing.route: services/orders and "
                                   "services/billing both claim any host, path /shop")
