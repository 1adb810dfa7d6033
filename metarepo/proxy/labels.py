"""The Swarm service labels Traefik and docker-flow-proxy route from, for one routed service.

Both proxies read the labels of the *service* (not its containers) and
need nothing else: Traefik's Swarm provider (``traefik.http.routers.*``,
``traefik.http.services.*.loadbalancer.server.port``, the network to reach
the tasks on as ``traefik.docker.network`` for v2 and
``traefik.swarm.network`` for v3) and docker-flow-proxy's swarm listener
(``com.df.notify``, ``com.df.serviceDomain``, ``com.df.servicePath``,
``com.df.port``). Every routed service of a proxied environment carries
both sets, whichever proxy the environment names, so a team can move from
one to the other without touching a service.

A path matches as everywhere else in metarepo: ``/api`` is ``/api`` and
``/api/...``, never ``/apix`` (Traefik's ``Path || PathPrefix``,
docker-flow-proxy's ``path_reg``).
"""

from __future__ import annotations

import re

from metarepo.proxy.settings import ProxySettings, Route

MANAGED_PREFIXES = ("traefik.", "com.df.")  # labels a rollout owns on a routed service, and removes when unrouted


def traefik_rule(route: Route) -> str:
    """The Traefik router rule for ``route``: its hosts (any one), and its path."""
    hosts = " || ".join(f"Host(`{host}`)" for host in route.hosts)
    path = f"(Path(`{route.path}`) || PathPrefix(`{route.prefix}`))" if route.prefix else ""
    if hosts and path:
        return f"({hosts}) && {path}" if len(route.hosts) > 1 else f"{hosts} && {path}"
    return hosts or path or "PathPrefix(`/`)"


def path_regex(route: Route) -> str:
    """``route``'s path as an anchored regular expression: the path alone, or followed by '/'."""
    return f"^{re.escape(route.path)}(/|$)" if route.prefix else "^/"


def route_labels(route: Route, proxy: ProxySettings) -> dict[str, str]:
    """The Traefik and docker-flow-proxy labels that route to ``route``'s service."""
    name = route.service
    router, service = f"traefik.http.routers.{name}", f"traefik.http.services.{name}"
    labels = {"traefik.enable": "true", "traefik.docker.network": proxy.network,
              "traefik.swarm.network": proxy.network, f"{router}.rule": traefik_rule(route),
              f"{router}.service": name, f"{service}.loadbalancer.server.port": str(route.port)}
    if proxy.entrypoints:
        labels[f"{router}.entrypoints"] = ",".join(proxy.entrypoints)
    if route.strip and route.prefix:
        labels[f"traefik.http.middlewares.{name}-strip.stripprefix.prefixes"] = route.path
        labels[f"{router}.middlewares"] = f"{name}-strip"
    if route.check:
        labels[f"{service}.loadbalancer.healthcheck.path"] = route.check
        labels[f"{service}.loadbalancer.healthcheck.interval"] = f"{proxy.check_interval:g}s"
    labels.update({"com.df.notify": "true", "com.df.distribute": "true", "com.df.port": str(route.port),
                   "com.df.servicePath": path_regex(route), "com.df.pathType": "path_reg"})
    if route.hosts:
        labels["com.df.serviceDomain"] = ",".join(route.hosts)
    if route.strip and route.prefix:
        labels["com.df.reqPathSearchReplace"] = f"^{re.escape(route.path)}/?,/"
    return labels


def managed(key: str) -> bool:
    """Whether the label ``key`` is one a rollout of a proxied environment owns."""
    return key.startswith(MANAGED_PREFIXES)
