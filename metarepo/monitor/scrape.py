"""How Prometheus finds and scrapes an environment's services: scrape configs and file_sd targets.

Every series a service's tasks expose is labelled ``service``, ``project``
and ``environment`` (what the SLO rules and the analysis queries select
on), and, where the platform says which release a task runs, ``version``
(the image's version, else its commit sha: what a check's ``{version}``
is). By the environment's ``monitoring.discovery``:

- ``swarm`` (Swarm's default): one job per service with Prometheus' Docker
  Swarm discovery (``dockerswarm_sd_configs``, role ``tasks``) through the
  Docker API at ``docker_host``. It keeps the running tasks' addresses on
  the overlay ``network`` (any network when unset) at the metrics port,
  which is what works with ``endpoint_mode: dnsrr``: Prometheus runs on
  that network as a service itself, like the proxy, and scrapes each task,
  not a VIP. ``version`` comes from the labels metarepo puts on each task.
  (``dns_sd_configs`` on ``tasks.<service>`` would find the same
  addresses but not which release each one runs.)
- ``nodes``: one job reading file_sd files, ``targets/<service>.yml``, each
  of the ``nodes`` at the metrics port: for services that publish it in
  host mode on every node (one task per node). No ``version`` there: a
  node's port does not say which task answers.
- ``kubernetes`` (Kubernetes' default): one job per service with pod
  discovery in the environment's ``namespace``, keeping the pods whose
  ``app.kubernetes.io/name`` is the service; ``version`` from the pods'
  ``app.kubernetes.io/version`` (else ``metarepo.io/sha``) labels.

Values from the manifest go in as data only: regexes are escaped for RE2,
``$`` in a relabel replacement is doubled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from metarepo.monitor.promql import regex_escape
from metarepo.monitor.settings import Discovery, Metrics, Monitoring, Slo

SCRAPE_INTERVAL = "15s"


@dataclass(frozen=True)
class Watched:
    """A service Prometheus scrapes: its project, its name in the cluster, its metrics and SLO settings."""

    project: str
    service: str
    metrics: Metrics
    slo: Slo | None = None


def common_labels(watched: Watched, environment: str) -> dict[str, str]:
    return {"service": watched.service, "project": watched.project, "environment": environment}


def scrape_configs(monitoring: Monitoring, services: list[Watched]) -> list[dict[str, Any]]:
    """The ``scrape_configs`` entries for ``services`` of ``monitoring``'s environment."""
    if not services:
        return []
    if monitoring.discovery is Discovery.NODES:
        return [{"job_name": monitoring.environment, "scrape_interval": SCRAPE_INTERVAL,
                 "file_sd_configs": [{"files": ["targets/*.yml"], "refresh_interval": "1m"}]}]
    return [_discovered(monitoring, watched) for watched in services]


def target_files(monitoring: Monitoring, services: list[Watched]) -> dict[str, list[dict[str, Any]]]:
    """file_sd documents, by file name under ``targets/`` (only ``discovery: nodes`` has any)."""
    if monitoring.discovery is not Discovery.NODES:
        return {}
    return {f"{w.service}.yml": [{
        "targets": [f"{node}:{w.metrics.port}" for node in monitoring.nodes],
        "labels": {**common_labels(w, monitoring.environment), "__metrics_path__": w.metrics.path}}]
        for w in services}


def _discovered(monitoring: Monitoring, watched: Watched) -> dict[str, Any]:
    port = watched.metrics.port
    job: dict[str, Any] = {"job_name": f"{monitoring.environment}/{watched.service}",
                           "scrape_interval": SCRAPE_INTERVAL, "metrics_path": watched.metrics.path}
    if monitoring.discovery is Discovery.SWARM:
        meta = "__meta_dockerswarm_"
        job["dockerswarm_sd_configs"] = [{"host": monitoring.docker_host, "role": "tasks", "port": port,
                                          "filters": [{"name": "service", "values": [watched.service]}]}]
        relabel = [
            _keep(f"{meta}task_desired_state", "running"),
            _keep(f"{meta}network_name", regex_escape(monitoring.network) if monitoring.network else ".+"),
            {"source_labels": ["__address__"], "regex": r"(.+):\d+", "target_label": "__address__",
             "replacement": f"${{1}}:{port}"},
            _copy(f"{meta}container_label_io_metarepo_sha", "version"),
            {"source_labels": [f"{meta}container_label_io_metarepo_version"], "regex": "(.+)",
             "target_label": "version"},
            _copy(f"{meta}task_slot", "slot"),
            _copy(f"{meta}node_hostname", "node"),
        ]
    else:
        meta = "__meta_kubernetes_pod_"
        sd: dict[str, Any] = {"role": "pod"}
        if monitoring.namespace:
            sd["namespaces"] = {"names": [monitoring.namespace]}
        job["kubernetes_sd_configs"] = [sd]
        relabel = [
            _keep(f"{meta}label_app_kubernetes_io_name", regex_escape(watched.service)),
            _keep(f"{meta}phase", "Running"),
            {"source_labels": [f"{meta}ip"], "regex": "(.+)", "target_label": "__address__",
             "replacement": f"${{1}}:{port}"},
            _copy(f"{meta}label_metarepo_io_sha", "version"),
            {"source_labels": [f"{meta}label_app_kubernetes_io_version"], "regex": "(.+)", "target_label": "version"},
            _copy(f"{meta}name", "pod"),
            _copy(f"{meta}node_name", "node"),
        ]
    relabel += [{"target_label": name, "replacement": _replacement(value)}
                for name, value in common_labels(watched, monitoring.environment).items()]
    job["relabel_configs"] = relabel
    return job


def alerting(monitoring: Monitoring) -> tuple[dict[str, Any] | None, str]:
    """The config's ``alerting`` section for the environment's Alertmanager, and a note (credentials are left out)."""
    if not monitoring.alertmanager:
        return None, ""
    import urllib.parse

    parts = urllib.parse.urlsplit(monitoring.alertmanager)
    host = parts.hostname or ""
    address = f"[{host}]" if ":" in host else host
    address += f":{parts.port}" if parts.port else (":443" if parts.scheme == "https" else ":80")
    manager: dict[str, Any] = {"scheme": parts.scheme, "static_configs": [{"targets": [address]}]}
    if parts.path.strip("/"):
        manager["path_prefix"] = parts.path
    note = ("the Alertmanager URL's credentials are not written into prometheus.yml: add basic_auth there "
            "from a file (password_file)") if parts.username or parts.password else ""
    return {"alertmanagers": [manager]}, note


def _keep(label: str, regex: str) -> Mapping[str, Any]:
    return {"source_labels": [label], "regex": regex, "action": "keep"}


def _copy(label: str, target: str) -> Mapping[str, Any]:
    return {"source_labels": [label], "target_label": target}


def _replacement(value: str) -> str:
    """A relabel replacement that is ``value`` itself (``$1`` and ``${x}`` there are expanded: ``$$`` is a ``$``)."""
    return value.replace("$", "$$")
