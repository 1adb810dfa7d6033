"""Why a task of a Swarm service failed, told from the node that ran it.

The manager knows each task's state, its error (``task: non-zero exit
(137): dockerexec: unhealthy container``), its exit code and its node; the
container itself, with its health probes' output, lives on that node's
engine alone. So the explanation of a failed task reads the container
where it ran:

- on the manager's own node, through the engine the rollout talks to;
- on any other node, through that node's engine, when the environment says
  how to reach it: ``node_docker_host``, either one template for every node
  (``"ssh://deploy@{hostname}"``, ``"tcp://{address}:2376"``: the node's
  hostname and address from the manager's node list) or a map of hostname
  to DOCKER_HOST. That is how a person would look too (``docker -H
  ssh://node2 inspect``), with the same ssh keys or TLS certificates
  (``DOCKER_CERT_PATH``, ``DOCKER_TLS_VERIFY``).
- When a node's engine cannot be asked (none configured, the node is down,
  the engine refuses), the manager's record is the explanation: the
  task's error, its exit code and the node, and a word on why the probes
  could not be read.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from metarepo.errors import EngineUnavailable, ManifestError

FAILED_TASK_STATES = {"failed", "rejected", "orphaned"}
NOT_YET_RUNNING = {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting"}
NODE_SECONDS = 10.0  # a node's engine answers quickly or not at all
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def node_engines_setting(environment: str, raw: Mapping[str, Any]) -> str | Mapping[str, str] | None:
    """The environment's ``node_docker_host``, checked: a template, a map of hostname to DOCKER_HOST, or None."""
    value = raw.get("node_docker_host")
    key = f"metarepo.environments.{environment}.node_docker_host"
    if value is None:
        return None
    if isinstance(value, str):
        unknown = [p for p in _PLACEHOLDER.findall(value) if p not in ("hostname", "address")]
        if unknown or not value.strip():
            raise ManifestError(f"may use {{hostname}} and {{address}} only, not {{{unknown[0] if unknown else ''}}}",
                                key=key)
        return value
    if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                          for k, v in value.items()):
        return dict(value)
    raise ManifestError("must be a DOCKER_HOST template (\"ssh://deploy@{hostname}\") or an object of node "
                        "hostname to DOCKER_HOST", key=key)


class NodeEngines:
    """The engines of a swarm's nodes, reached as ``node_docker_host`` says, each asked once per run."""

    def __init__(self, api: Any, setting: str | Mapping[str, str] | None) -> None:
        self.api = api
        self.setting = setting
        self._clients: dict[str, tuple[Any, str]] = {}
        self._own: str | None = None

    def own_node(self) -> str:
        if self._own is None:
            self._own = ((self.api.info() or {}).get("Swarm") or {}).get("NodeID") or ""
        return self._own

    def describe(self, node_id: str) -> tuple[str, str]:
        """(hostname, address) of ``node_id`` from the manager's node list ("", "" when it is gone)."""
        from docker.errors import APIError

        try:
            node = self.api.inspect_node(node_id)
        except APIError:
            return "", ""
        hostname = (node.get("Description") or {}).get("Hostname") or ""
        address = (node.get("Status") or {}).get("Addr") or ""
        if address in ("", "0.0.0.0"):
            address = ((node.get("ManagerStatus") or {}).get("Addr") or "").rsplit(":", 1)[0]
        return hostname, address

    def api_for(self, node_id: str) -> tuple[Any, str]:
        """The low-level client of ``node_id``'s engine, or (None, why it cannot be asked)."""
        if not node_id or node_id == self.own_node():
            return self.api, ""
        if node_id in self._clients:
            return self._clients[node_id]
        hostname, address = self.describe(node_id)
        where = hostname or node_id[:12]
        host = None
        if isinstance(self.setting, str):
            host = self.setting.replace("{hostname}", hostname).replace("{address}", address)
        elif isinstance(self.setting, Mapping):
            host = self.setting.get(hostname)
        if not host:
            found = (None, f"{where}'s engine is not known (set node_docker_host for the environment in .meta)")
        else:
            from metarepo.images.engine import connect

            try:
                found = (connect(host, timeout=NODE_SECONDS, pool=2).api, "")
            except EngineUnavailable as exc:
                found = (None, f"{where}'s engine could not be asked: {exc.message}")
        self._clients[node_id] = found
        return found


class TaskReader:
    """What went wrong with the tasks of a service, read from the manager and from the nodes that ran them."""

    def __init__(self, api: Any, nodes: NodeEngines | None = None) -> None:
        self.api = api
        self.nodes = nodes or NodeEngines(api, None)

    def failure(self, service_id: str, image: str, since: tuple[str, str]) -> str | None:
        """Why a task of ``image`` started after ``since`` failed, if one did."""
        for task in self.api.tasks(filters={"service": service_id}):
            status = task.get("Status") or {}
            if task["Spec"]["ContainerSpec"].get("Image") != image or stamp(task.get("CreatedAt")) < since:
                continue
            if status.get("State") in FAILED_TASK_STATES or (
                    status.get("State") in ("shutdown", "complete") and status.get("Err")):
                return self.explain_task(task)
            if status.get("State") == "complete":  # a service's task never ends on its own: it was stopped
                health = self.container_health(task)
                exit_code = (status.get("ContainerStatus") or {}).get("ExitCode")
                return health or f"its process exited ({exit_code}){self._on(task)}"
        return None

    def reason(self, service_id: str, image: str, message: str) -> str:
        """Why Swarm gave up on an update: the named task's story, else any failed task of the new image."""
        from docker.errors import NotFound

        match = re.search(r"task ([a-z0-9]{25})", message)
        if match:
            try:
                return self.explain_task(self.api.inspect_task(match.group(1)))
            except NotFound:
                pass
        return self.failure(service_id, image, ("", "")) or explain(message)

    def stranded(self, service_id: str, image: str, since: str | None) -> str | None:
        """The hostname of a down node holding a task of ``image`` (started after ``since``) that never ran.

        Swarm's updater waits for each task it starts to run; one placed on
        a node that then goes down never does (its agent is gone), and the
        update hangs on it for good, even once the orchestrator has started
        a replacement elsewhere. None when no task is stranded so.
        """
        if not since:
            return None
        waiting = [t for t in self.api.tasks(filters={"service": service_id})
                   if t["Spec"]["ContainerSpec"].get("Image") == image and t.get("NodeID")
                   and (t.get("Status") or {}).get("State") in NOT_YET_RUNNING
                   and stamp(t.get("CreatedAt")) >= stamp(since)]
        if not waiting:
            return None
        down = {n["ID"]: (n.get("Description") or {}).get("Hostname") or n["ID"][:12]
                for n in self.api.nodes() if (n.get("Status") or {}).get("State") == "down"}
        return next((down[t["NodeID"]] for t in waiting if t["NodeID"] in down), None)

    def explain_task(self, task: Mapping[str, Any]) -> str:
        """One task's failure: its container's failing probes when they can be read, else the manager's record."""
        status = task.get("Status") or {}
        health, unread = self._health(task)
        if health:
            return health + self._on(task)
        error, state = status.get("Err") or "", status.get("State") or ""
        exit_code = (status.get("ContainerStatus") or {}).get("ExitCode")
        if error:
            text = explain(error)
        elif state in ("complete", "shutdown"):  # stopped by Swarm (a rollback) before it was running: unhealthy
            text = f"its task was stopped before it became healthy ({status.get('Message') or state})"
        else:
            text = explain(status.get("Message") or state or "it stopped")
        if exit_code and f"({exit_code})" not in text:
            text += f" (exit {exit_code})"
        return text + self._on(task) + (f"; its health probes could not be read: {unread}" if unread else "")

    def container_health(self, task: Mapping[str, Any]) -> str | None:
        return self._health(task)[0]

    def _health(self, task: Mapping[str, Any]) -> tuple[str | None, str]:
        """("its health check failed (...)" or None, why the container could not be read)."""
        from docker.errors import APIError

        container_id = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")
        if not container_id:
            return None, ""
        api, why = self.nodes.api_for(task.get("NodeID") or "")
        if api is None:
            return None, why
        try:
            health = (api.inspect_container(container_id).get("State") or {}).get("Health") or {}
        except APIError as exc:
            return None, f"the container is gone ({exc.explanation or exc})"[:200]
        except Exception as exc:  # noqa: BLE001 - a node that went away mid-read
            return None, f"its node stopped answering ({type(exc).__name__})"
        return health_failure(health), ""

    def _on(self, task: Mapping[str, Any]) -> str:
        """" on node2" for a task of another node than the manager's (where a person would look)."""
        node_id = task.get("NodeID") or ""
        if not node_id or node_id == self.nodes.own_node():
            return ""
        hostname = self.nodes.describe(node_id)[0]
        return f" on {hostname}" if hostname else ""


def health_failure(health: Mapping[str, Any]) -> str | None:
    """"its health check failed (N failing probes, exit E; it said: ...)" for an unhealthy container."""
    probes = health.get("Log") or []
    failing = [p for p in probes if p.get("ExitCode") != 0]
    if health.get("Status") == "unhealthy" or (failing and health.get("Status") != "healthy"):
        last = (failing[-1].get("Output") or "").strip().splitlines() if failing else []
        said = f"; it said: {last[-1][:120]}" if last else ""
        return (f"its health check failed ({health.get('FailingStreak', len(failing))} failing probes, "
                f"exit {failing[-1].get('ExitCode') if failing else '?'}{said})")
    return None


def explain(error: str) -> str:
    """A task's error in a user's words, the engine's own text kept."""
    if error.startswith(("its health check failed", "its process exited")):
        return error
    if "unhealthy container" in error:
        return f"its health check failed ({error})"
    if "No such image" in error or "manifest unknown" in error or "pull access denied" in error:
        return f"the node could not pull the image ({error})"
    return f"a task failed ({error})"


def stamp(value: str | None) -> tuple[str, str]:
    """An RFC 3339 time from the engine, comparable (Go trims trailing zeros off the fraction)."""
    if not value:
        return ("", "")
    whole, _, fraction = value.rstrip("Z").partition(".")
    return (whole, fraction.ljust(9, "0"))
