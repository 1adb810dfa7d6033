"""How a Swarm service of an environment is networked: its networks, endpoint, published ports and route labels.

Per environment (``metarepo.environments.E``):

- ``endpoint_mode``: ``vip`` (Swarm's default: one virtual IP, balanced by
  IPVS) or ``dnsrr`` (the service name resolves to every task). Hosts
  without IPVS in their kernel have no VIPs and no routing mesh: use
  ``dnsrr`` there.
- ``publish_mode``: how a project's ``publish`` ports are published:
  ``ingress`` (the routing mesh: every node, needs IPVS) or ``host`` (the
  node that runs the task only). ``dnsrr`` takes ``host`` only.
- ``proxy`` (``metarepo.proxy.settings``): every routed service joins the
  proxy's network (an attachable overlay, made when missing) and carries
  the labels Traefik and docker-flow-proxy route from
  (``metarepo.proxy.labels``).

Per project: ``publish`` (``["8080:80", {"published": 9000, "target": 9000,
"protocol": "udp"}]``) and ``expose``. In a proxied environment the proxy
is the only way in: a service that would publish a port itself is refused
before anything changes, unless its project says ``expose: true``.

``service_networking`` is the part of a service spec this module owns
(``ServiceNetworking``: the networks, the ``EndpointSpec``, the labels);
``swarm.py`` puts it in the spec it creates or updates and compares it
with what runs. When an environment sets none of this (no proxy, no
endpoint or publish mode, no project ``publish``), a rollout leaves a
service's networks and endpoint as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from metarepo.errors import ManifestError
from metarepo.images.release import RolloutFailed
from metarepo.proxy.settings import ProxySettings, proxy_of, read_exposed, read_route

ENDPOINT_MODES = ("vip", "dnsrr")
PUBLISH_MODES = ("ingress", "host")
_PUBLISH = re.compile(r"^(?P<published>\d{1,5}):(?P<target>\d{1,5})(?:/(?P<protocol>tcp|udp|sctp))?$")


@dataclass(frozen=True)
class PublishedPort:
    published: int
    target: int
    protocol: str = "tcp"


@dataclass(frozen=True)
class EnvironmentNetworking:
    """An environment's networking settings, shared by every service of its rollouts."""

    environment: str
    endpoint_mode: str = "vip"
    publish_mode: str = "ingress"
    proxy: ProxySettings | None = None
    explicit: bool = False  # whether the environment set any of it (else a rollout leaves networking alone)


@dataclass(frozen=True)
class ServiceNetworking:
    """The networking part of one service's spec."""

    managed: bool  # False: keep whatever networks and endpoint the service has
    networks: tuple[str, ...] = ()  # network names
    endpoint: Mapping[str, Any] = field(default_factory=dict)  # EndpointSpec, as the API takes it
    labels: Mapping[str, str] = field(default_factory=dict)  # route labels (Traefik, docker-flow-proxy)


def environment_networking(name: str, raw: Mapping[str, Any]) -> EnvironmentNetworking:
    """Read and check the networking settings of environment ``name``."""
    where = f"metarepo.environments.{name}"
    endpoint = raw.get("endpoint_mode", "vip")
    if endpoint not in ENDPOINT_MODES:
        raise ManifestError(f"must be vip or dnsrr, not {endpoint!r}", key=f"{where}.endpoint_mode")
    publish = raw.get("publish_mode", "host" if endpoint == "dnsrr" else "ingress")
    if publish not in PUBLISH_MODES:
        raise ManifestError(f"must be ingress or host, not {publish!r}", key=f"{where}.publish_mode")
    if endpoint == "dnsrr" and publish == "ingress":
        raise ManifestError("Swarm cannot publish through the routing mesh (ingress) with endpoint_mode dnsrr",
                            key=f"{where}.publish_mode", hint="set publish_mode to host")
    proxy = proxy_of(name, raw)
    explicit = proxy is not None or "endpoint_mode" in raw or "publish_mode" in raw
    return EnvironmentNetworking(name, endpoint, publish, proxy, explicit)


def published_ports(project: str, settings: Mapping[str, Any]) -> tuple[PublishedPort, ...]:
    """The project's ``publish`` ports, checked."""
    raw = settings.get("publish", [])
    key = f"metarepo.projects.{project}.publish"
    if isinstance(raw, str) or not isinstance(raw, list):
        raise ManifestError(f"must be a list of \"PUBLISHED:TARGET[/PROTOCOL]\" or objects, not {raw!r}", key=key)
    ports = []
    for n, item in enumerate(raw):
        at = f"{key}[{n}]"
        if isinstance(item, str):
            match = _PUBLISH.match(item)
            if not match:
                raise ManifestError(f"{item!r} is not PUBLISHED:TARGET[/tcp|udp|sctp]", key=at)
            item = {"published": int(match["published"]), "target": int(match["target"]),
                    "protocol": match["protocol"] or "tcp"}
        if not isinstance(item, Mapping) or set(item) - {"published", "target", "protocol"}:
            raise ManifestError("must be {\"published\": N, \"target\": N, \"protocol\": \"tcp\"}", key=at)
        numbers = []
        for name in ("published", "target"):
            value = item.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                raise ManifestError(f"must be a port number (1-65535), not {value!r}", key=f"{at}.{name}")
            numbers.append(value)
        protocol = item.get("protocol", "tcp")
        if protocol not in ("tcp", "udp", "sctp"):
            raise ManifestError(f"must be tcp, udp or sctp, not {protocol!r}", key=f"{at}.protocol")
        ports.append(PublishedPort(numbers[0], numbers[1], protocol))
    return tuple(ports)


def service_networking(project: str, settings: Mapping[str, Any],
                       environment: EnvironmentNetworking) -> ServiceNetworking:
    """What ``project``'s service gets in ``environment``; ``ManifestError`` for a port it may not publish."""
    ports = published_ports(project, settings)
    proxy = environment.proxy
    if proxy is not None and ports and not read_exposed(project, settings):
        shown = ", ".join(f"{p.published}:{p.target}" for p in ports)
        raise ManifestError(f"would publish {shown} itself in {environment.environment}, whose services are "
                            f"reached through its {proxy.kind} proxy", key=f"metarepo.projects.{project}.publish",
                            hint="route it (`route`), or say `\"expose\": true` if it must be reached directly")
    if not environment.explicit and not ports:
        return ServiceNetworking(managed=False)
    endpoint: dict[str, Any] = {"Mode": environment.endpoint_mode}
    if ports:
        endpoint["Ports"] = [{"Protocol": p.protocol, "TargetPort": p.target, "PublishedPort": p.published,
                              "PublishMode": environment.publish_mode} for p in ports]
    route = read_route(project, settings) if proxy is not None else None
    if route is None or proxy is None:
        return ServiceNetworking(True, (), endpoint, {})
    from metarepo.proxy.labels import route_labels

    return ServiceNetworking(True, (proxy.network,), endpoint, route_labels(route, proxy))


def check_networking(releases: Iterable[Any], environment: EnvironmentNetworking) -> None:
    """Refuse, before anything changes, a release whose networking is bad input."""
    for release in releases:
        service_networking(release.project, release.settings, environment)


def endpoint_key(endpoint: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """An ``EndpointSpec`` in a form that compares equal however the engine echoes it back."""
    endpoint = endpoint or {}
    ports = sorted((p.get("Protocol", "tcp"), p.get("TargetPort"), p.get("PublishedPort"),
                    p.get("PublishMode", "ingress")) for p in endpoint.get("Ports") or [])
    return (endpoint.get("Mode") or "vip", tuple(ports))


def ensure_network(api: Any, name: str) -> str:
    """The id of the attachable overlay network ``name``, made when missing; ``RolloutFailed`` if it is not one."""
    from docker.errors import APIError, NotFound

    try:
        network = api.inspect_network(name)
    except NotFound:
        try:
            return api.create_network(name, driver="overlay", attachable=True, scope="swarm",
                                      labels={"io.metarepo.proxy-network": "true"})["Id"]
        except APIError as exc:  # made by another rollout meanwhile
            try:
                network = api.inspect_network(name)
            except NotFound:
                raise RolloutFailed(f"cannot make the proxy network {name!r}: {exc.explanation or exc}") from None
    if network.get("Driver") != "overlay" or network.get("Scope") != "swarm" or not network.get("Attachable"):
        raise RolloutFailed(f"the proxy network {name!r} exists but is not an attachable overlay network "
                           f"(driver {network.get('Driver')}, scope {network.get('Scope')}, attachable "
                           f"{bool(network.get('Attachable'))})", hint="remove it, or name another `network` for "
                                                                       "the proxy in .meta")
    return network["Id"]
