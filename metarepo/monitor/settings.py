"""The ``.meta`` settings for metrics, SLOs, monitoring and analysis, read and validated in one place.

Per project (its own settings, or ``defaults``):

- ``metrics: {port: 9100, path: "/metrics"}`` (``true`` means those defaults):
  where Prometheus scrapes the service's tasks.
- ``slo: {error_ratio: 0.01, latency_p99_ms: 500}``, optionally with
  ``requests_metric`` (a counter with a ``code`` label, default
  ``http_requests_total``; errors are its ``code=~"5.."`` series) and
  ``latency_metric`` (a histogram, default ``http_request_duration_seconds``).

Per environment:

- ``monitoring: {prometheus: URL, alertmanager: URL, timeout: 5}`` and how
  the rendered config finds the tasks: ``discovery`` (``swarm``, the default
  on Swarm: Docker Swarm service discovery through ``docker_host``, keeping
  the tasks' addresses on ``network``; ``nodes``: file_sd targets, each of
  ``nodes`` at the metrics port, for host-mode published ports;
  ``kubernetes``, the default on Kubernetes: the pods of the environment's
  ``namespace``).
- ``analysis: [check, ...]``, each in Argo Rollouts' shape: ``name``,
  ``query``, ``success`` and/or ``failure`` (conditions, see condition.py),
  ``interval`` and ``initial_delay`` (seconds, or ``"30s"``/``"5m"``),
  ``count``, ``failure_limit``, ``inconclusive_limit``, ``inconclusive``.
- ``alerts: true`` (or ``{label: "service", match: {"env": "staging"}}``):
  an Alertmanager alert firing with the service's name fails its step.
- ``inconclusive: rollback`` (the default) or ``continue``: what a check
  that could not decide does.

Every problem is a ``ManifestError`` naming the key. Other capabilities
(``doctor``) read projects with ``project_metrics`` and ``project_slo``,
environments with ``monitoring_settings`` and ``analysis_settings``.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Protocol

from metarepo.errors import ManifestError
from metarepo.monitor.condition import Condition, ConditionError, parse_condition
from metarepo.monitor.promql import QueryError, check_query

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_CHECK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_NETWORK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_NODE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]+\])$")
_PATH = re.compile(r"^/[!-~]*$")  # printable ASCII, no spaces
MAX_COUNT = 10_000


class Discovery(Enum):
    """How the rendered Prometheus config finds an environment's tasks."""

    SWARM = "swarm"
    NODES = "nodes"
    KUBERNETES = "kubernetes"


class Inconclusive(Enum):
    """What a check that could not decide does to the rollout."""

    ROLLBACK = "rollback"
    CONTINUE = "continue"


@dataclass(frozen=True)
class Metrics:
    port: int = 9100
    path: str = "/metrics"


@dataclass(frozen=True)
class Slo:
    error_ratio: float | None = None  # the error budget: at most this share of requests may fail
    latency_p99_ms: float | None = None
    requests_metric: str = "http_requests_total"
    latency_metric: str = "http_request_duration_seconds"


@dataclass(frozen=True)
class Monitoring:
    environment: str
    prometheus: str | None = field(default=None, repr=False)  # URLs may carry a password: never in a repr
    alertmanager: str | None = field(default=None, repr=False)
    timeout: float = 5.0
    discovery: Discovery = Discovery.SWARM
    network: str | None = None
    nodes: tuple[str, ...] = ()
    docker_host: str = "unix:///var/run/docker.sock"
    namespace: str | None = None  # Kubernetes: the environment's namespace


@dataclass(frozen=True)
class Check:
    """One analysis check, in Argo Rollouts' AnalysisTemplate terms (times in seconds)."""

    name: str
    query: str
    success: Condition | None = None
    failure: Condition | None = None
    interval: float = 10.0
    count: int = 1
    initial_delay: float = 0.0
    failure_limit: int = 0
    inconclusive_limit: int = 0
    inconclusive: Inconclusive = Inconclusive.ROLLBACK
    key: str = ""  # where it is in .meta

    @property
    def times(self) -> tuple[float, ...]:
        """When each measurement is taken, in seconds after the service is live."""
        return tuple(self.initial_delay + n * self.interval for n in range(self.count))


@dataclass(frozen=True)
class Alerts:
    label: str = "service"  # the alert label that names the service
    match: tuple[tuple[str, str], ...] = ()  # more labels an alert must have to count


@dataclass(frozen=True)
class Analysis:
    monitoring: Monitoring
    checks: tuple[Check, ...] = ()
    alerts: Alerts | None = None
    inconclusive: Inconclusive = Inconclusive.ROLLBACK

    @property
    def configured(self) -> bool:
        return bool(self.checks) or self.alerts is not None

    @property
    def seconds(self) -> float:
        """How long the analysis of one service takes, queries aside."""
        return max((c.times[-1] for c in self.checks), default=0.0)


class _Named(Protocol):
    name: str
    settings: Mapping[str, Any]


# -- projects -------------------------------------------------------------------------------------


def project_metrics(project: _Named) -> Metrics | None:
    """The project's ``metrics`` setting, or None when it has none."""
    raw = project.settings.get("metrics")
    where = f"metarepo.projects.{project.name}.metrics"
    if raw is None or raw is False:
        return None
    if raw is True:
        return Metrics()
    _object(raw, where, ("port", "path"))
    path = raw.get("path", "/metrics")
    if not isinstance(path, str) or not _PATH.match(path):
        raise ManifestError(f"must be a URL path such as \"/metrics\", not {path!r}", key=f"{where}.path")
    return Metrics(port=_port(raw.get("port", 9100), f"{where}.port"), path=path)


def project_slo(project: _Named) -> Slo | None:
    """The project's ``slo`` setting, or None when it has none."""
    raw = project.settings.get("slo")
    where = f"metarepo.projects.{project.name}.slo"
    if raw is None:
        return None
    _object(raw, where, ("error_ratio", "latency_p99_ms", "requests_metric", "latency_metric"))
    ratio = raw.get("error_ratio")
    if ratio is not None and not (_is_number(ratio) and 0 < ratio < 1):
        raise ManifestError(f"must be a share of requests between 0 and 1 (0.01 for 1%), not {ratio!r}",
                            key=f"{where}.error_ratio")
    latency = raw.get("latency_p99_ms")
    if latency is not None and not (_is_number(latency) and 0 < latency < 86_400_000):
        raise ManifestError(f"must be a number of milliseconds above 0, not {latency!r}",
                            key=f"{where}.latency_p99_ms")
    if ratio is None and latency is None:
        raise ManifestError("names no objective: give error_ratio, latency_p99_ms or both", key=where)
    names = {}
    for key, default in (("requests_metric", Slo.requests_metric), ("latency_metric", Slo.latency_metric)):
        value = raw.get(key, default)
        if not isinstance(value, str) or not _METRIC_NAME.match(value):
            raise ManifestError(f"must be a Prometheus metric name, not {value!r}", key=f"{where}.{key}")
        names[key] = value
    return Slo(error_ratio=None if ratio is None else float(ratio),
               latency_p99_ms=None if latency is None else float(latency), **names)


# -- environments ---------------------------------------------------------------------------------


def monitoring_settings(env: str, raw: Mapping[str, Any]) -> Monitoring:
    """The environment's ``monitoring`` setting (every key optional)."""
    where = f"metarepo.environments.{env}.monitoring"
    found = raw.get("monitoring") or {}
    _object(found, where, ("prometheus", "alertmanager", "timeout", "discovery", "network", "nodes",
                           "docker_host"))
    kubernetes = raw.get("target") == "kubernetes"
    discovery = found.get("discovery", "kubernetes" if kubernetes else "swarm")
    try:
        discovery = Discovery(discovery)
    except ValueError:
        raise ManifestError(f"must be swarm, nodes or kubernetes, not {discovery!r}",
                            key=f"{where}.discovery") from None
    nodes = found.get("nodes", [])
    if not isinstance(nodes, list) or not all(isinstance(n, str) and _NODE.match(n) for n in nodes):
        raise ManifestError("must be a list of host names or addresses", key=f"{where}.nodes")
    if discovery is Discovery.NODES and not nodes:
        raise ManifestError("discovery: nodes needs the nodes' addresses in nodes", key=f"{where}.nodes")
    network = found.get("network")
    if network is not None and not (isinstance(network, str) and _NETWORK.match(network)):
        raise ManifestError(f"must be a Docker network name, not {network!r}", key=f"{where}.network")
    docker_host = found.get("docker_host", Monitoring.docker_host)
    if not isinstance(docker_host, str) or _scheme(docker_host) not in ("unix", "tcp", "http", "https") or \
            _has_control(docker_host):
        raise ManifestError("must be the Docker API address Prometheus uses (unix:///var/run/docker.sock, "
                            f"tcp://host:2376), not {docker_host!r}", key=f"{where}.docker_host")
    timeout = found.get("timeout", 5)
    if not _is_number(timeout) or not 0 < timeout <= 300:
        raise ManifestError(f"must be a number of seconds between 0 and 300, not {timeout!r}",
                            key=f"{where}.timeout")
    namespace = raw.get("namespace")
    return Monitoring(environment=env, prometheus=_url(found.get("prometheus"), f"{where}.prometheus"),
                      alertmanager=_url(found.get("alertmanager"), f"{where}.alertmanager"),
                      timeout=float(timeout), discovery=discovery, network=network, nodes=tuple(nodes),
                      docker_host=docker_host, namespace=namespace if isinstance(namespace, str) else None)


def analysis_settings(env: str, raw: Mapping[str, Any]) -> Analysis:
    """The environment's ``analysis``, ``alerts`` and ``inconclusive`` settings, with its monitoring."""
    where = f"metarepo.environments.{env}"
    monitoring = monitoring_settings(env, raw)
    policy = _policy(raw.get("inconclusive", "rollback"), f"{where}.inconclusive")
    checks_raw = raw.get("analysis", [])
    if not isinstance(checks_raw, list):
        raise ManifestError("must be a list of checks ({name, query, success, ...})", key=f"{where}.analysis")
    checks = tuple(_check(item, f"{where}.analysis[{n}]", policy) for n, item in enumerate(checks_raw))
    names = [c.name for c in checks]
    for n, name in enumerate(names):
        if name in names[:n]:
            raise ManifestError(f"two checks are named {name!r}", key=f"{where}.analysis[{n}].name")
    if checks and not monitoring.prometheus:
        raise ManifestError("analysis needs the environment's Prometheus: set monitoring.prometheus to its URL",
                            key=f"{where}.monitoring.prometheus")
    alerts = _alerts(raw.get("alerts", False), f"{where}.alerts")
    if alerts is not None and not monitoring.alertmanager:
        raise ManifestError("alerts needs the environment's Alertmanager: set monitoring.alertmanager to its URL",
                            key=f"{where}.monitoring.alertmanager")
    return Analysis(monitoring=monitoring, checks=checks, alerts=alerts, inconclusive=policy)


def _check(raw: Any, where: str, policy: Inconclusive) -> Check:
    _object(raw, where, ("name", "query", "success", "failure", "interval", "count", "initial_delay",
                         "failure_limit", "inconclusive_limit", "inconclusive"))
    name = raw.get("name")
    if not isinstance(name, str) or not _CHECK_NAME.match(name):
        raise ManifestError(f"must be a short name (letters, digits, '-', '_', '.'), not {name!r}",
                            key=f"{where}.name")
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip() or len(query) > 20_000:
        raise ManifestError("must be a PromQL query", key=f"{where}.query")
    try:
        check_query(query)
    except QueryError as exc:
        raise ManifestError(str(exc), key=f"{where}.query") from None
    conditions = {}
    for key in ("success", "failure"):
        try:
            conditions[key] = None if raw.get(key) is None else parse_condition(raw[key])
        except ConditionError as exc:
            raise ManifestError(str(exc), key=f"{where}.{key}") from None
    if conditions["success"] is None and conditions["failure"] is None:
        raise ManifestError("needs a success condition (such as \"< 0.05\") or a failure one", key=f"{where}.success")
    count = raw.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ManifestError(f"must be a whole number from 1 to {MAX_COUNT}, not {count!r}", key=f"{where}.count")
    limits = {}
    for key in ("failure_limit", "inconclusive_limit"):
        value = raw.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ManifestError(f"must be a whole number, 0 or more, not {value!r}", key=f"{where}.{key}")
        limits[key] = value
    return Check(name=name, query=query, success=conditions["success"], failure=conditions["failure"],
                 interval=_seconds(raw.get("interval", 10), f"{where}.interval", minimum=0.05),
                 count=count, initial_delay=_seconds(raw.get("initial_delay", 0), f"{where}.initial_delay"),
                 inconclusive=_policy(raw.get("inconclusive", policy.value), f"{where}.inconclusive"),
                 key=where, **limits)


def _alerts(raw: Any, where: str) -> Alerts | None:
    if raw is False or raw is None:
        return None
    if raw is True:
        return Alerts()
    _object(raw, where, ("label", "match"))
    label = raw.get("label", "service")
    if not isinstance(label, str) or not _LABEL_NAME.match(label):
        raise ManifestError(f"must be a label name, not {label!r}", key=f"{where}.label")
    match = raw.get("match", {})
    if not isinstance(match, Mapping) or not all(
            isinstance(k, str) and _LABEL_NAME.match(k) and isinstance(v, str) and not _has_control(v)
            for k, v in match.items()):
        raise ManifestError("must map label names to values", key=f"{where}.match")
    return Alerts(label=label, match=tuple(match.items()))


def _policy(raw: Any, where: str) -> Inconclusive:
    try:
        return Inconclusive(raw)
    except ValueError:
        raise ManifestError(f"must be rollback or continue, not {raw!r}", key=where) from None


def parse_seconds(value: Any) -> float | None:
    """Seconds from a number or a Go duration (``"30s"``, ``"1m30s"``, ``"500ms"``); None if neither."""
    if _is_number(value):
        return float(value) if value >= 0 else None
    if not isinstance(value, str) or len(value) > 40:
        return None
    from metarepo.images.dockerfile import DockerfileError, parse_duration

    try:
        return parse_duration(value, 0)
    except DockerfileError:
        return None


def _seconds(value: Any, where: str, *, minimum: float = 0.0) -> float:
    seconds = parse_seconds(value)
    if seconds is None or seconds < minimum or seconds > 86_400:
        raise ManifestError(f"must be seconds (a number, or \"30s\", \"5m\") from {minimum:g} to a day, "
                            f"not {value!r}", key=where)
    return seconds


def _url(value: Any, where: str) -> str | None:
    if value is None:
        return None
    valid = False
    if isinstance(value, str) and not _has_control(value) and " " not in value:
        try:
            parts = urllib.parse.urlsplit(value)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:  # a port that is not a number, or out of range
            port_ok = False
        valid = port_ok and parts.scheme in ("http", "https") and bool(parts.hostname) and not (
            parts.query or parts.fragment)
    if not valid:
        from metarepo.urls import redact

        shown = redact(value) if isinstance(value, str) else repr(value)
        raise ManifestError(f"must be an http(s) URL such as http://prometheus:9090, not {shown}", key=where)
    return value.rstrip("/")


def _port(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ManifestError(f"must be a port number (1-65535), not {value!r}", key=where)
    return value


def _object(raw: Any, where: str, known: tuple[str, ...]) -> None:
    if not isinstance(raw, Mapping):
        raise ManifestError("must be an object", key=where)
    for key in raw:
        if key not in known and not str(key).startswith("//"):
            raise ManifestError(f"unknown key (known: {', '.join(known)})", key=f"{where}.{key}")


def _scheme(url: str) -> str:
    try:
        return urllib.parse.urlsplit(url).scheme
    except ValueError:  # an unclosed [ of an IPv6 address
        return ""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


__all__ = ["Alerts", "Analysis", "Check", "Discovery", "Inconclusive", "Metrics", "Monitoring", "Slo",
           "analysis_settings", "monitoring_settings", "parse_seconds", "project_metrics", "project_slo"]

