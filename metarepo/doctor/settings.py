"""The manifest settings the scorecard reads that other capabilities own, read in one place.

The proxy (``route``, ``expose``, ``publish``), the monitoring (``metrics``,
``slo``), the broker (an environment's ``broker``) and the logs (an
environment's ``logging``) each check their own settings fully when they
use them. The scorecard only asks whether each is declared, in the shapes
issues 12 and 13 give::

    route:   {hosts: [...], path: "/api", port: 8080, strip: false}
    expose:  true                       (the service may publish a port itself)
    publish: [8080, "8443:443"]         (ports the service publishes itself)
    metrics: {port: 9100, path: "/metrics"}
    slo:     {error_ratio: 0.01, latency_p99_ms: 500}
    broker:  {kind: rabbitmq, url, vhost, exchange, retry: {...}}   (per environment)
    logging: {driver, options}                                       (per environment)

These readers are the seam: when ``metarepo.proxy``, ``metarepo.monitor``,
``metarepo.broker`` and ``metarepo.logs`` have their own readers, these
functions call them instead, and the checks stay as they are. A value of
the wrong shape is reported here as "declared but malformed" (a failed
check naming the key), never an error: the owning command refuses it with
its own message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from metarepo.manifest import Manifest, Project

SLO_KEYS = ("error_ratio", "latency_p99_ms")


@dataclass(frozen=True)
class Declared:
    """Whether a setting is there, and if it is there but unusable, why (``problem``)."""

    present: bool
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.present and not self.problem


MISSING = Declared(False)


def _port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536


def route(project: Project) -> Declared:
    value = project.setting("route")
    if value is None or value is False:
        return MISSING
    if not isinstance(value, Mapping):
        return Declared(True, "must be an object {hosts, path, port, strip}")
    hosts, path = value.get("hosts"), value.get("path")
    if hosts is not None and (not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts)):
        return Declared(True, "hosts must be a list of host names")
    if path is not None and (not isinstance(path, str) or not path.startswith("/")):
        return Declared(True, "path must start with '/'")
    if not hosts and not path:
        return Declared(True, "names no host and no path: nothing would reach it")
    if "port" in value and not _port(value["port"]):
        return Declared(True, "port must be a port number")
    return Declared(True)


def exposed(project: Project) -> bool:
    """``expose: true``: the service may publish a port itself, past the proxy."""
    return project.setting("expose") is True


def published_ports(project: Project) -> tuple[str, ...]:
    """The ports the service publishes itself (``publish``), as written."""
    value = project.setting("publish")
    if value is None or value == [] or value is False:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(str(item) for item in items)


def metrics(project: Project) -> Declared:
    value = project.setting("metrics")
    if value is None or value is False:
        return MISSING
    if not isinstance(value, Mapping):
        return Declared(True, "must be an object {port, path}")
    if not _port(value.get("port")):
        return Declared(True, "port must be a port number")
    path = value.get("path", "/metrics")
    if not isinstance(path, str) or not path.startswith("/"):
        return Declared(True, "path must start with '/'")
    return Declared(True)


def slo(project: Project) -> Declared:
    value = project.setting("slo")
    if value is None or value is False:
        return MISSING
    if not isinstance(value, Mapping):
        return Declared(True, f"must be an object with {' or '.join(SLO_KEYS)}")
    known = [k for k in SLO_KEYS if k in value]
    if not known:
        return Declared(True, f"names none of {', '.join(SLO_KEYS)}")
    for key in known:
        number = value[key]
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number <= 0:
            return Declared(True, f"{key} must be a number above 0")
    if "error_ratio" in known and value["error_ratio"] >= 1:
        return Declared(True, "error_ratio is a fraction (0.01 is 1%)")
    return Declared(True)


def environment_setting(manifest: Manifest, key: str) -> dict[str, Declared]:
    """Each environment's ``key`` (``broker``, ``logging``), by environment name."""
    out = {}
    for name, env in manifest.environments.items():
        if name.startswith("//") or not isinstance(env, Mapping):
            continue
        value = env.get(key)
        if value is None:
            out[name] = MISSING
        elif not isinstance(value, Mapping):
            out[name] = Declared(True, "must be an object")
        elif key == "broker" and not value.get("url"):
            out[name] = Declared(True, "names no url (the management API)")
        elif key == "logging" and not value.get("driver"):
            out[name] = Declared(True, "names no driver")
        else:
            out[name] = Declared(True)
    return out
