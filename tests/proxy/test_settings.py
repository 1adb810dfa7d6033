"""Routes and proxies as .meta says them: defaults, and every bad value refused in one line naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from metarepo.errors import ManifestError
from metarepo.manifest import load_manifest
from metarepo.proxy.settings import (DOCKER_DNS, ProxySettings, Route, exposed, fleet_routes, proxy_of, read_route,
                                     route_of)

from tests.conftest import run_meta

from .fleet import STAGING, write_meta


def test_a_route_takes_its_defaults_from_the_project(tmp_path: Path) -> None:
    manifest = load_manifest(write_meta(tmp_path))
    routes = {r.project: r for r in fleet_routes(manifest.projects)}
    assert set(routes) == {"services/orders", "services/billing", "services/web"}
    assert routes["services/web"] == Route("services/web", "web", (), "/", 80)  # the project's port
    assert routes["services/billing"].port == 8080 and routes["services/billing"].prefix == "/billing/"
    assert routes["services/orders"].strip and routes["services/orders"].check == "/health"
    assert route_of(manifest.project("services/worker")) is None
    assert not exposed(manifest.project("services/orders"))


def test_hosts_are_lower_cased_once_and_a_trailing_slash_is_the_same_path() -> None:
    route = read_route("a/api", {"route": {"hosts": ["API.acme.io", "api.acme.io"], "path": "/v1/"}})
    assert route.hosts == ("api.acme.io",) and route.path == "/v1"


@pytest.mark.parametrize("route, key, words", [
    ("x", "route", "must be an object"),
    ({"host": ["a.io"]}, "route", "unknown key 'host'"),
    ({"hosts": "a.io"}, "route.hosts", "must be a list"),
    ({"hosts": ["a b.io"]}, "route.hosts[0]", "not a host name"),
    ({"hosts": ["a.io;"]}, "route.hosts[0]", "not a host name"),
    ({"hosts": ["a.io{"]}, "route.hosts[0]", "not a host name"),
    ({"hosts": ["a.io\n    bind :9"]}, "route.hosts[0]", "not a host name"),
    ({"hosts": ["ok.io", "a.io#x"]}, "route.hosts[1]", "not a host name"),
    ({"hosts": ["*.a.io"]}, "route.hosts[0]", "wildcards are not supported"),
    ({"hosts": ["a.io:8080"]}, "route.hosts[0]", "no port"),
    ({"path": "api"}, "route.path", "plain URL path"),
    ({"path": "/a b"}, "route.path", "not ' '"),
    ({"path": "/a;b"}, "route.path", "not ';'"),
    ({"path": "/a{b}"}, "route.path", "not '{'"),
    ({"path": "/a#b"}, "route.path", "not '#'"),
    ({"path": "/$uri"}, "route.path", "not '$'"),
    ({"path": "/a%20b"}, "route.path", "write the path decoded"),
    ({"path": "/a?b=1"}, "route.path", "without a query"),
    ({"path": "/a/../b"}, "route.path", "'..'"),
    ({"port": 0}, "route.port", "port number"),
    ({"port": "80"}, "route.port", "port number"),
    ({"port": True}, "route.port", "port number"),
    ({"strip": "yes"}, "route.strip", "true or false"),
    ({"check": "health"}, "route.check", "plain URL path"),
])
def test_a_bad_route_is_refused_naming_its_key(route, key, words) -> None:
    with pytest.raises(ManifestError) as caught:
        read_route("services/orders", {"route": route})
    message = str(caught.value)
    assert f"metarepo.projects.services/orders.{key}:" in message and words in message
    assert "\n" not in message


def test_a_bad_project_port_is_named_when_the_route_takes_it() -> None:
    with pytest.raises(ManifestError, match=r"services/a\.port: must be a port number"):
        read_route("services/a", {"route": {}, "port": 70000})


def test_two_projects_claiming_one_host_and_path_are_refused_naming_both(tmp_path: Path) -> None:
    projects = {"services/a": {"route": {"hosts": ["x.io", "y.io"], "path": "/api"}},
                "services/b": {"route": {"hosts": ["y.io"], "path": "/api/"}}}
    with pytest.raises(ManifestError) as caught:
        fleet_routes(load_manifest(write_meta(tmp_path / "one", projects)).projects)
    assert str(caught.value) == "metarepo.projects.services/b.route: services/a and services/b both claim y.io/api"
    hostless = {"services/a": {"route": {"path": "/api"}}, "services/b": {"route": {"path": "/api"}}}
    with pytest.raises(ManifestError, match="services/a and services/b both claim any host, path /api"):
        fleet_routes(load_manifest(write_meta(tmp_path / "two", hostless)).projects)
    apart = {"services/a": {"route": {"hosts": ["x.io"], "path": "/api"}},
             "services/b": {"route": {"hosts": ["y.io"], "path": "/api"}},
             "services/c": {"route": {"path": "/api"}}, "services/d": {"route": {"hosts": ["x.io"]}}}
    assert len(fleet_routes(load_manifest(write_meta(tmp_path / "three", apart)).projects)) == 4


def test_a_project_not_deployed_routes_nothing(tmp_path: Path) -> None:
    projects = {"services/a": {"route": {"path": "/api"}}, "services/b": {"route": {"path": "/api"}, "deploy": False}}
    assert [r.project for r in fleet_routes(load_manifest(write_meta(tmp_path, projects)).projects)] == ["services/a"]


def test_the_proxy_takes_its_defaults() -> None:
    proxy = proxy_of("staging", {"proxy": {"kind": "traefik"}})
    assert proxy == ProxySettings("staging", "traefik")
    assert proxy.network == "proxy" and proxy.port == 80 and proxy.resolvers == (DOCKER_DNS,)
    assert proxy.timeouts == {"connect": 2.0, "client": 30.0, "server": 30.0}
    assert proxy_of("staging", {"target": "swarm"}) is None


@pytest.mark.parametrize("proxy, key, words", [
    ({"kind": "envoy"}, "proxy.kind", "must be one of haproxy, nginx, traefik, docker-flow-proxy"),
    ({"kind": "haproxy", "netwrok": "x"}, "proxy", "unknown key 'netwrok'"),
    ({"kind": "haproxy", "network": "my net"}, "proxy.network", "not a Docker network name"),
    ({"kind": "haproxy", "address": "localhost"}, "proxy.address", "IP address"),
    ({"kind": "haproxy", "resolvers": ["dns.local:53"]}, "proxy.resolvers[0]", "ADDRESS:PORT"),
    ({"kind": "haproxy", "resolvers": []}, "proxy.resolvers", "at least one"),
    ({"kind": "haproxy", "stats_socket": "/run/a b.sock"}, "proxy.stats_socket", "absolute path"),
    ({"kind": "haproxy", "slots": 0}, "proxy.slots", "between 1 and 1000"),
    ({"kind": "haproxy", "timeouts": {"idle": 3}}, "proxy.timeouts", "connect, client, server"),
    ({"kind": "haproxy", "timeouts": {"connect": "2s"}}, "proxy.timeouts.connect", "must be a number"),
    ({"kind": "haproxy", "monitor_uri": "/up;"}, "proxy.monitor_uri", "plain URL path"),
    ({"kind": "traefik", "entrypoints": ["web secure"]}, "proxy.entrypoints[0]", "entry point name"),
])
def test_a_bad_proxy_is_refused_naming_its_key(proxy, key, words) -> None:
    with pytest.raises(ManifestError) as caught:
        proxy_of("staging", {"proxy": proxy})
    assert f"metarepo.environments.staging.{key}:" in str(caught.value) and words in str(caught.value)


def test_meta_proxy_render_refuses_a_bad_host_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    root = write_meta(tmp_path / "meta", {"services/a": {"route": {"hosts": ["a.io;\n  server evil 6.6.6.6:80"]}}},
                      {"staging": STAGING})
    out = tmp_path / "haproxy.cfg"
    proc = run_meta("proxy", "render", "staging", "-o", str(out), cwd=root)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "metarepo.projects.services/a.route.hosts[0]" in lines[0], lines
    assert "Traceback" not in proc.stderr and not out.exists()
