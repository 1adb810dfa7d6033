"""An environment's ``logging``: the Docker log driver every service of it gets, and where that sends its lines.

``"logging": {"driver": "syslog", "options": {"syslog-address": "tcp://logs:514"}}``
in an environment makes every rollout to it set the service's
``TaskTemplate.LogDriver`` on Swarm, so the cluster ships every service's
stdout and stderr to the central store with no per-service work. A driver
that takes a ``tag`` (syslog, gelf, fluentd, journald) gets the service's
name as its tag unless the options give one: one environment-wide option
could not name each service (Docker's tag templates know the container,
``orders.1.x7a...``, not its service).

Kubernetes has no per-Deployment log driver: the cluster's own log shipping
(a node agent reading the containers' stdout) applies, and a rollout says so.

``readable`` says whether ``docker service logs`` (so ``meta logs``) can read
a driver's lines back: json-file, local and journald always; the drivers
that only ship (syslog, gelf, fluentd) since Docker 20.10 through the
engine's local cache ("dual logging"), unless the options turn it off with
``cache-disabled``. Without it, the engine answers with no lines and no error,
so ``meta logs`` says where the lines went instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from metarepo.errors import ManifestError

DRIVERS = ("syslog", "gelf", "fluentd", "journald", "json-file", "local")
_READ_BACK = {"json-file", "local", "journald"}  # drivers the engine reads from itself
_TAGGED = {"syslog", "gelf", "fluentd", "journald"}  # drivers that take a `tag` option
_DUAL_LOGGING = (20, 10)  # the engine version whose local cache reads back any driver
_ADDRESS = {"syslog": ("syslog-address", "each node's own syslog (/dev/log)"),
            "gelf": ("gelf-address", "the GELF address in the service's log options"),
            "fluentd": ("fluentd-address", "localhost:24224 on each node")}


@dataclass(frozen=True)
class LogDriver:
    """A Docker log driver and its options (strings, as Docker takes them)."""

    driver: str
    options: tuple[tuple[str, str], ...] = ()

    @property
    def option_map(self) -> dict[str, str]:
        return dict(self.options)


def logging_settings(raw: Any, where: str) -> LogDriver | None:
    """Validate an environment's ``logging`` (None when it has none)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ManifestError('must be an object like {"driver": "syslog", "options": {...}}', key=where)
    unknown = sorted(set(raw) - {"driver", "options"} - {k for k in raw if str(k).startswith("//")})
    if unknown:
        raise ManifestError(f"unknown key {unknown[0]!r} (driver, options)", key=where)
    driver = raw.get("driver")
    if driver not in DRIVERS:
        raise ManifestError(f"unknown log driver {driver!r} (one of {', '.join(DRIVERS)})", key=f"{where}.driver")
    options = raw.get("options", {})
    if not isinstance(options, Mapping):
        raise ManifestError("must be an object of option names to strings", key=f"{where}.options")
    for key, value in options.items():
        if not isinstance(key, str) or not key.strip() or not isinstance(value, str):
            raise ManifestError(f"must be a string, not {value!r} (Docker's log options are strings: "
                                "write \"true\", \"5\")", key=f"{where}.options.{key}")
    return LogDriver(driver, tuple(options.items()))


def log_driver_spec(logging: LogDriver | None, service: str) -> dict[str, Any] | None:
    """Swarm's ``TaskTemplate.LogDriver`` for one service, or None to leave it to the engine's default."""
    if logging is None:
        return None
    options = logging.option_map
    if logging.driver in _TAGGED:
        options.setdefault("tag", service)
    return {"Name": logging.driver, "Options": options}


def with_log_driver(task_template: dict[str, Any], logging: LogDriver | None, service: str) -> dict[str, Any]:
    """``task_template`` with the environment's LogDriver set (or the engine's default, without one)."""
    spec = log_driver_spec(logging, service)
    if spec is None:
        task_template.pop("LogDriver", None)
    else:
        task_template["LogDriver"] = spec
    return task_template


def live_log_driver(task_template: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A live service's LogDriver in the form ``log_driver_spec`` gives (the engine drops empty options)."""
    found = (task_template or {}).get("LogDriver")
    if not found or not found.get("Name"):
        return None
    return {"Name": found["Name"], "Options": dict(found.get("Options") or {})}


def readable(driver: str, options: Mapping[str, str], engine_version: str) -> bool:
    """Whether the engine can give a service's lines back (``docker service logs``) with this driver."""
    if driver in _READ_BACK:
        return True
    if driver == "none":
        return False
    if str(options.get("cache-disabled", "false")).lower() in ("true", "1"):
        return False
    return _version(engine_version) >= _DUAL_LOGGING


def destination(driver: str, options: Mapping[str, str], service: str) -> str:
    """Where a driver sends a service's lines, in a person's words."""
    if driver == "none":
        return "nowhere: its log driver is none"
    tag = options.get("tag", service)
    if driver == "journald":
        return f"each node's journal (journalctl CONTAINER_TAG={tag})"
    if driver in _ADDRESS:
        key, default = _ADDRESS[driver]
        where = options.get(key) or default
        return f"{driver} at {where} (tag {tag})" if driver in _TAGGED else f"{driver} at {where}"
    return f"the {driver} log driver"


def _version(text: str) -> tuple[int, int]:
    parts = []
    for piece in str(text).split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return (parts + [0, 0])[0], (parts + [0, 0])[1]
