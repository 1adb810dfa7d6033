"""Routes, exposure and an environment's proxy, read from ``.meta`` and checked.

Per project (``metarepo.projects.P``, defaults merged in)::

    "route": {"hosts": ["api.acme.io"], "path": "/orders", "port": 8080, "strip": true, "check": "/health"}
    "expose": true

``route`` is how the edge proxy reaches the service: the host names it
answers (none: any host), a path prefix (``/orders`` matches ``/orders``
and ``/orders/...``, never ``/ordersx``; default ``/``), the container port
(default: the project's ``port``, else 8080), whether the prefix is cut off
before the request reaches the service, and an optional HTTP path the proxy
checks the tasks' health on (else it checks that the port accepts).
``expose: true`` lets a service of a proxied environment publish ports of
its own; without it, a rollout refuses one that would.

Per environment (``metarepo.environments.E``)::

    "proxy": {"kind": "haproxy", "network": "proxy", "port": 80, ...}

read by ``proxy_of`` into ``ProxySettings`` (every key is documented in
``.meta.example``).

Everything is checked here, once: a host name is a DNS name, a path holds
only URL path characters that no proxy's config language gives a meaning
to (no space, ``;``, ``{``, ``#``, quote, ``$`` or ``%``), so a value can
never become config syntax; the templates escape every value again on top.
Two projects claiming the same host and path are refused, naming both.

The API other capabilities read (``meta doctor``, the rollout targets):
``route_of(project) -> Route | None``, ``exposed(project) -> bool``,
``fleet_routes(projects) -> tuple[Route, ...]`` and ``proxy_of(env, raw)``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from metarepo.errors import ManifestError
from metarepo.service_names import service_name

if TYPE_CHECKING:
    from metarepo.manifest import Project

HAPROXY, NGINX, TRAEFIK, DOCKER_FLOW_PROXY = "haproxy", "nginx", "traefik", "docker-flow-proxy"
KINDS = (HAPROXY, NGINX, TRAEFIK, DOCKER_FLOW_PROXY)
DEFAULT_PORT = 8080  # the container port of a route when the project names none
DOCKER_DNS = "127.0.0.11:53"  # the engine's embedded DNS, inside every container on a user network

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_PATH = re.compile(r"^/[A-Za-z0-9._~:@+!*=&/-]*$")
_NETWORK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_SOCKET = re.compile(r"^/[A-Za-z0-9._/-]+$")
_ROUTE_KEYS = ("hosts", "path", "port", "strip", "check")
_PROXY_KEYS = ("kind", "network", "address", "port", "resolvers", "slots", "stats_socket", "monitor_uri",
               "timeouts", "retries", "check_interval", "ingress_class", "entrypoints", "//")
_TIMEOUTS = {"connect": 2.0, "client": 30.0, "server": 30.0}


@dataclass(frozen=True)
class Route:
    """How the edge reaches one project's service."""

    project: str
    service: str  # the Swarm service / Kubernetes Service / proxy backend name
    hosts: tuple[str, ...]  # lower case; empty: any host
    path: str  # "/" or a prefix without a trailing slash
    port: int  # the container port
    strip: bool = False  # cut ``path`` off before the request reaches the service
    check: str | None = None  # an HTTP path the proxy checks health on; None: the port accepting is enough

    @property
    def prefix(self) -> str | None:
        """``path`` with its trailing slash (what a prefix match takes), None for ``/``."""
        return None if self.path == "/" else self.path + "/"

    @property
    def claims(self) -> tuple[tuple[str, str], ...]:
        """(host or "", path) pairs: what no other route may also claim."""
        return tuple((host, self.path) for host in (self.hosts or ("",)))

    def as_json(self) -> dict[str, Any]:
        return {"project": self.project, "service": self.service, "hosts": list(self.hosts), "path": self.path,
                "port": self.port, "strip": self.strip, "check": self.check}


@dataclass(frozen=True)
class ProxySettings:
    """An environment's edge proxy."""

    environment: str
    kind: str  # haproxy | nginx | traefik | docker-flow-proxy
    network: str = "proxy"  # the attachable overlay network the proxy and every routed service join (Swarm)
    address: str | None = None  # the address the proxy listens on (None: every address)
    port: int = 80  # the port it listens on
    resolvers: tuple[str, ...] = (DOCKER_DNS,)  # nameservers ADDRESS:PORT the proxy finds tasks with
    slots: int = 10  # HAProxy servers per backend (tasks it can route to at once)
    stats_socket: str | None = None  # HAProxy's runtime API socket (what `meta proxy check --running` asks)
    monitor_uri: str | None = None  # a path the proxy answers 200 on itself
    timeouts: Mapping[str, float] = field(default_factory=lambda: dict(_TIMEOUTS))  # connect/client/server, s
    retries: int = 3  # another task is tried this many times when one refuses or drops a request
    check_interval: float = 1.0  # seconds between two health checks of a task
    ingress_class: str | None = None  # Kubernetes: the Ingress's ingressClassName
    entrypoints: tuple[str, ...] = ()  # Traefik: the entry points routers listen on (none: all)


def _where(project: str) -> str:
    return f"metarepo.projects.{project}"


def _port(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ManifestError(f"must be a port number (1-65535), not {value!r}", key=key)
    return value


def _path(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ManifestError(f"must be a path starting with '/', not {value!r}", key=key)
    if not _PATH.match(value) or len(value) > 1024:
        bad = next((c for c in value if not _PATH.match("/" + c)), value[:1])
        raise ManifestError(f"{value!r} is not a plain URL path: it must start with '/' and hold only letters, "
                            f"digits and . _ ~ : @ + ! * = & / - (not {bad!r}; write the path decoded, "
                            "without a query)", key=key)
    if "//" in value or any(part in (".", "..") for part in value.split("/")):
        raise ManifestError(f"{value!r} holds an empty, '.' or '..' segment: proxies would each read it "
                            "differently", key=key)
    return value.rstrip("/") or "/"


def host_name(value: Any, key: str) -> str:
    """A host name a route answers, checked (a DNS name, at most 253 characters), in lower case."""
    if not isinstance(value, str) or not value:
        raise ManifestError(f"must be a host name, not {value!r}", key=key)
    host = value.lower()
    if len(host) > 253 or not _HOST.match(host):
        hint = " (wildcards are not supported: list each host)" if "*" in host else ""
        raise ManifestError(f"{value!r} is not a host name: DNS labels of letters, digits and '-', joined by "
                            f"'.', no port{hint}", key=key)
    return host


def read_route(project: str, settings: Mapping[str, Any]) -> Route | None:
    """The ``route`` of project ``project`` with settings ``settings``, checked; None when it has none."""
    raw = settings.get("route")
    if raw is None:
        return None
    key = f"{_where(project)}.route"
    if not isinstance(raw, Mapping):
        raise ManifestError("must be an object: {\"hosts\": [...], \"path\": \"/\", \"port\": 8080, "
                            "\"strip\": false}", key=key)
    unknown = [k for k in raw if k not in _ROUTE_KEYS and not str(k).startswith("//")]
    if unknown:
        raise ManifestError(f"unknown key {unknown[0]!r} (known: {', '.join(_ROUTE_KEYS)})", key=key)
    hosts_raw = raw.get("hosts", [])
    if isinstance(hosts_raw, str) or not isinstance(hosts_raw, list):
        raise ManifestError(f"must be a list of host names, not {hosts_raw!r}", key=f"{key}.hosts")
    hosts = tuple(dict.fromkeys(host_name(h, f"{key}.hosts[{n}]") for n, h in enumerate(hosts_raw)))
    path = _path(raw.get("path", "/"), f"{key}.path")
    declared = settings.get("port")
    port = raw.get("port", declared if declared is not None else DEFAULT_PORT)
    port = _port(port, f"{key}.port" if "port" in raw else f"{_where(project)}.port")
    strip = raw.get("strip", False)
    if not isinstance(strip, bool):
        raise ManifestError(f"must be true or false, not {strip!r}", key=f"{key}.strip")
    check = raw.get("check")
    if check is not None:
        check = _path(check, f"{key}.check")
    return Route(project, service_name(project, settings), hosts, path, port, strip, check)


def route_of(project: Project) -> Route | None:
    """``project``'s route, checked (``ManifestError`` naming the key when it is malformed); None if unrouted."""
    return read_route(project.name, project.settings)


def read_exposed(project: str, settings: Mapping[str, Any]) -> bool:
    value = settings.get("expose", False)
    if not isinstance(value, bool):
        raise ManifestError(f"must be true or false, not {value!r}", key=f"{_where(project)}.expose")
    return value


def exposed(project: Project) -> bool:
    """Whether ``project`` may publish ports itself in a proxied environment (``expose: true``)."""
    return read_exposed(project.name, project.settings)


def check_claims(routes: Iterable[Route]) -> tuple[Route, ...]:
    """``routes``, refused (one line naming both projects) when two claim one host and path, or one service."""
    claimed: dict[tuple[str, str], str] = {}
    services: dict[str, str] = {}
    kept = []
    for route in routes:
        if route.service in services:
            raise ManifestError(f"{services[route.service]} and {route.project} would both be routed to "
                                f"service {route.service!r}", key=f"{_where(route.project)}.service")
        services[route.service] = route.project
        for host, path in route.claims:
            other = claimed.get((host, path))
            if other is not None:
                shown = f"{host}{path}" if host else f"any host, path {path}"
                raise ManifestError(f"{other} and {route.project} both claim {shown}",
                                    key=f"{_where(route.project)}.route")
            claimed[(host, path)] = route.project
        kept.append(route)
    return tuple(kept)


def fleet_routes(projects: Iterable[Project]) -> tuple[Route, ...]:
    """Every deployed project's route, in manifest order, checked against each other."""
    routes = []
    for project in projects:
        if project.setting("deploy", True) is False:
            continue
        route = route_of(project)
        if route is not None:
            routes.append(route)
    return check_claims(routes)


# -- the environment's proxy ---------------------------------------------------------


def _number(raw: Mapping[str, Any], name: str, key: str, default: float, low: float, high: float,
            integer: bool = False) -> Any:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ManifestError(f"must be {'a whole number' if integer else 'a number'}, not {value!r}",
                            key=f"{key}.{name}")
    if not low <= value <= high:
        raise ManifestError(f"must be between {low:g} and {high:g}, not {value!r}", key=f"{key}.{name}")
    return value


def _names(raw: Any, key: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    if isinstance(raw, str) or not isinstance(raw, list):
        raise ManifestError(f"must be a list of {what}s, not {raw!r}", key=key)
    for n, value in enumerate(raw):
        if not isinstance(value, str) or not pattern.match(value):
            raise ManifestError(f"{value!r} is not a {what}", key=f"{key}[{n}]")
    return tuple(raw)


def _resolver(value: Any, key: str) -> str:
    text = value if isinstance(value, str) else ""
    host, _, port = text.rpartition(":")
    try:
        ipaddress.ip_address(host.strip("[]"))
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError
    except ValueError:
        raise ManifestError(f"must be a nameserver ADDRESS:PORT (an IP address), not {value!r}", key=key) from None
    return text


def proxy_of(environment: str, raw: Mapping[str, Any]) -> ProxySettings | None:
    """The ``proxy`` of environment ``environment`` (its settings ``raw``), checked; None when it has none."""
    proxy = raw.get("proxy") if isinstance(raw, Mapping) else None
    if proxy is None:
        return None
    key = f"metarepo.environments.{environment}.proxy"
    if not isinstance(proxy, Mapping):
        raise ManifestError("must be an object: {\"kind\": \"haproxy\", \"network\": \"proxy\"}", key=key)
    unknown = [k for k in proxy if k not in _PROXY_KEYS and not str(k).startswith("//")]
    if unknown:
        raise ManifestError(f"unknown key {unknown[0]!r} (known: {', '.join(_PROXY_KEYS[:-1])})", key=key)
    kind = proxy.get("kind")
    if kind not in KINDS:
        raise ManifestError(f"must be one of {', '.join(KINDS)}, not {kind!r}", key=f"{key}.kind")
    network = proxy.get("network", "proxy")
    if not isinstance(network, str) or not _NETWORK.match(network):
        raise ManifestError(f"{network!r} is not a Docker network name (letters, digits, '_', '.', '-')",
                            key=f"{key}.network")
    address = proxy.get("address")
    if address is not None:
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            raise ManifestError(f"must be an IP address, not {address!r}", key=f"{key}.address") from None
    resolvers = tuple(_resolver(v, f"{key}.resolvers[{n}]")
                      for n, v in enumerate(_list(proxy.get("resolvers", [DOCKER_DNS]), f"{key}.resolvers")))
    if not resolvers:
        raise ManifestError("must name at least one nameserver", key=f"{key}.resolvers")
    socket = proxy.get("stats_socket")
    if socket is not None and (not isinstance(socket, str) or not _SOCKET.match(socket)):
        raise ManifestError(f"must be an absolute path (letters, digits, '.', '_', '-', '/'), not {socket!r}",
                            key=f"{key}.stats_socket")
    monitor = proxy.get("monitor_uri")
    if monitor is not None:
        monitor = _path(monitor, f"{key}.monitor_uri")
    timeouts_raw = proxy.get("timeouts", {})
    if not isinstance(timeouts_raw, Mapping) or any(k not in _TIMEOUTS for k in timeouts_raw):
        raise ManifestError(f"must be an object of {', '.join(_TIMEOUTS)} (seconds)", key=f"{key}.timeouts")
    timeouts = {name: float(_number(timeouts_raw, name, f"{key}.timeouts", default, 0.001, 86400))
                for name, default in _TIMEOUTS.items()}
    ingress_class = proxy.get("ingress_class")
    if ingress_class is not None and (not isinstance(ingress_class, str) or not _HOST.match(ingress_class)):
        raise ManifestError(f"{ingress_class!r} is not an IngressClass name", key=f"{key}.ingress_class")
    return ProxySettings(
        environment=environment, kind=kind, network=network, address=address,
        port=_port(proxy.get("port", 80), f"{key}.port"), resolvers=resolvers,
        slots=_number(proxy, "slots", key, 10, 1, 1000, integer=True), stats_socket=socket, monitor_uri=monitor,
        timeouts=timeouts, retries=_number(proxy, "retries", key, 3, 0, 10, integer=True),
        check_interval=float(_number(proxy, "check_interval", key, 1, 0.1, 3600)), ingress_class=ingress_class,
        entrypoints=_names(proxy.get("entrypoints", []), f"{key}.entrypoints", _NAME, "Traefik entry point name"))


def _list(value: Any, key: str) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, list):
        raise ManifestError(f"must be a list, not {value!r}", key=key)
    return value
