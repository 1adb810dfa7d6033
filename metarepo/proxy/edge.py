"""What the edge templates render with: the fleet's routes, in the order a proxy must try them.

``edge_values`` turns the checked routes and the environment's proxy into
plain values (numbers in milliseconds, names that are safe identifiers,
each route's regular expressions already built); the templates only lay
them out, and their dialect quotes every value on top.

Order: a proxy that tries rules in turn (HAProxy's ``use_backend``) tries
the longest path first, and a route with host names before a host-less
one of the same path, so the most specific route wins as it does in nginx
(longest prefix) and Traefik (longest rule).
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

from metarepo.proxy.labels import traefik_rule
from metarepo.proxy.settings import ProxySettings, Route

def ordered(routes: Sequence[Route]) -> list[Route]:
    """Most specific first: the longest path, then a route with hosts before one for any host."""
    return sorted(routes, key=lambda r: (-len(r.path), not r.hosts, r.service))


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _route_values(route: Route, proxy: ProxySettings) -> dict[str, Any]:
    return {
        "name": route.service, "project": route.project, "service": route.service, "hosts": list(route.hosts),
        "path": route.path, "prefix": route.prefix, "port": route.port, "strip": route.strip,
        "check": route.check, "address": f"tasks.{route.service}", "server": f"tasks.{route.service}:{route.port}",
        "variable": re.sub(r"[^A-Za-z0-9_]", "_", f"upstream_{route.service}"),
        # the prefix and what follows it ("/api/x" -> "/x", "/api" -> "/"), for a regex-based rewrite
        "strip_regex": f"^{re.escape(route.path)}/?(.*)" if route.strip and route.prefix else None,
        "traefik_rule": traefik_rule(route),
    }


def _servers(routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """nginx server blocks: one per host name, with its routes and the host-less ones it does not shadow.

    The last one (no names) holds the host-less routes, for any other host.
    """
    anywhere = [r for r in routes if not r["hosts"]]
    hosts = list(dict.fromkeys(h for r in routes for h in r["hosts"]))
    servers = []
    for host in hosts:
        own = [r for r in routes if host in r["hosts"]]
        paths = {r["path"] for r in own}
        servers.append({"names": [host], "routes": own + [r for r in anywhere if r["path"] not in paths]})
    if anywhere:
        servers.append({"names": [], "routes": anywhere})
    for server in servers:
        server["routes"] = sorted(server["routes"], key=lambda r: -len(r["path"]))
    return servers


def edge_values(environment: str, proxy: ProxySettings, routes: Sequence[Route], *, format: str) -> dict[str, Any]:
    """The context of ``proxy/<format>`` templates."""
    values = [_route_values(r, proxy) for r in ordered(routes)]
    listen = f"{proxy.address}:{proxy.port}" if proxy.address else f":{proxy.port}"
    if proxy.address and ":" in proxy.address:
        listen = f"[{proxy.address}]:{proxy.port}"
    return {
        "environment": environment, "kind": proxy.kind, "format": format, "network": proxy.network,
        "listen": listen, "nginx_listen": listen.lstrip(":"), "port": proxy.port,
        "resolvers": [{"name": f"dns{n}", "address": a} for n, a in enumerate(proxy.resolvers, 1)],
        "slots": proxy.slots, "stats_socket": proxy.stats_socket, "monitor_uri": proxy.monitor_uri,
        "timeouts": {k: _ms(v) for k, v in proxy.timeouts.items()}, "retries": proxy.retries,
        "check_interval": _ms(proxy.check_interval), "check_seconds": max(1, math.ceil(proxy.check_interval)), "entrypoints": list(proxy.entrypoints),
        "routes": values, "default": next((r for r in values if not r["hosts"] and r["path"] == "/"), None),
        "servers": _servers(values),
    }
