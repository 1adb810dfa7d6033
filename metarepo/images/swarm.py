"""The Docker Swarm target: create or update one service, health-gated, and put it back on failure.

Every service gets explicit update and rollback settings, never the SDK's
(which update every task at once and never stop): one task at a time (or
the environment's ``parallelism``), ``failure_action: rollback``, a monitor
window at least as long as the image's HEALTHCHECK takes to call a task
unhealthy, ``max_failure_ratio`` from the manifest. Swarm only reports a
task running once its health check passes, so convergence means healthy.

``deploy`` waits for the update to converge (woken by the engine's event
stream the moment Swarm reports it, see ``watch.py``) and treats ``paused``,
``rollback_started``/``rollback_completed`` and ``rollback_paused`` as
failure (``docker stack deploy`` exits 0 after a rollback: docker/cli#6752).
``roll_back`` re-applies the spec that ran before, or removes a service
this run created: Swarm has no stack-wide rollback (moby#34712), so the
rollout does it service by service.

The networking part of a spec (networks, endpoint, route labels) comes from
``swarm_network.py``; why a task failed is read from the node that ran it
by ``swarm_tasks.py``, which also spots an update Swarm can never finish (a
task it waits on was placed on a node that then went down): that service
is put back at once instead of waiting out the timeout.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable

from metarepo.errors import EngineUnavailable
from metarepo.image_reference import short_reference
from metarepo.report import NULL, Reporter

from metarepo.images.log_driver import live_log_driver, log_driver_spec, with_log_driver
from metarepo.images.release import Action, Applied, Healthcheck, Preview, Release, RolloutFailed, Unknown
from metarepo.images.swarm_network import (EnvironmentNetworking, ServiceNetworking, endpoint_key, ensure_network,
                                           service_networking)
from metarepo.images.swarm_tasks import NodeEngines, TaskReader, explain, stamp
from metarepo.images.watch import ServiceWatch

_NS = 1_000_000_000
_LABEL = "io.metarepo"
_SWARM_FAILURES = {"paused": "the update paused", "rollback_paused": "the rollback paused (needs a person)"}


def monitor_window(release: Release) -> float:
    """The monitor window: the manifest's, and never shorter than the health check's."""
    monitor = release.update.monitor
    health = release.healthcheck
    if health is not None:
        monitor = max(monitor, health.start_period + health.retries * health.interval + health.timeout)
    return monitor


def update_config(release: Release, *, rollback: bool = False) -> dict[str, Any]:
    """Swarm's UpdateConfig/RollbackConfig for ``release`` (a plain dict, as the API takes it)."""
    policy = release.update
    return {
        "Parallelism": policy.parallelism,
        "Delay": int(policy.delay * _NS),
        "FailureAction": "pause" if rollback else "rollback",
        "Monitor": int(monitor_window(release) * _NS),
        "MaxFailureRatio": policy.max_failure_ratio,
        "Order": policy.order,
    }


def service_labels(release: Release) -> dict[str, str]:
    labels = {f"{_LABEL}.project": release.project, f"{_LABEL}.sha": release.sha}
    if release.version:
        labels[f"{_LABEL}.version"] = release.version
    return labels


def healthcheck_from_image(attrs: dict[str, Any]) -> Healthcheck | None:
    """The HEALTHCHECK of an inspected image (times in nanoseconds there)."""
    config = (attrs.get("Config") or {}).get("Healthcheck") or {}
    test = tuple(config.get("Test") or ())
    if not test or test[0] == "NONE":
        return None
    return Healthcheck(test=test, interval=(config.get("Interval") or 30 * _NS) / _NS,
                       timeout=(config.get("Timeout") or 30 * _NS) / _NS, retries=config.get("Retries") or 3,
                       start_period=(config.get("StartPeriod") or 0) / _NS)


class SwarmTarget:
    """Releases as Swarm services on the engine ``client`` talks to (a manager node).

    With no client (``unreachable`` says why), it can only preview: the spec
    it would apply, not whether the service exists.
    """

    kind = "swarm"

    def __init__(self, client: Any, *, reporter: Reporter = NULL, poll: float = 0.5,
                 clock: Callable[[], float] = time.monotonic, unreachable: str = "",
                 networking: EnvironmentNetworking | None = None, nodes: Any = None) -> None:
        self.client = client
        self.api = client.api if client is not None else None
        self.unreachable = unreachable
        self.reporter = reporter
        self.poll = poll
        self.clock = clock
        self.in_flight: Applied | None = None  # submitted, not yet converged: what Ctrl-C must put back
        self.networking = networking or EnvironmentNetworking("")
        self.tasks = TaskReader(self.api, NodeEngines(self.api, nodes)) if self.api else None
        self._network_ids: dict[str, str] = {}
        self._network_names: dict[str, str] = {}

    # -- reading ---------------------------------------------------------------

    def _inspect(self, name: str) -> dict[str, Any] | None:
        from docker.errors import NotFound

        try:
            return self.api.inspect_service(name)
        except NotFound:
            return None

    def _tasks(self, service_id: str) -> list[dict[str, Any]]:
        return self.api.tasks(filters={"service": service_id})

    def _wanted(self, release: Release) -> dict[str, Any]:
        return {"Image": release.pinned, "Replicas": release.replicas, "Labels": service_labels(release),
                "UpdateConfig": update_config(release), "RollbackConfig": update_config(release, rollback=True),
                "LogDriver": log_driver_spec(release.logging, release.service)}

    @staticmethod
    def _current(spec: dict[str, Any]) -> dict[str, Any]:
        container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        replicated = (spec.get("Mode") or {}).get("Replicated") or {}
        return {"Image": container.get("Image"), "Replicas": replicated.get("Replicas"),
                "Labels": {k: v for k, v in (spec.get("Labels") or {}).items() if k.startswith(_LABEL)},
                "UpdateConfig": _set(spec.get("UpdateConfig")), "RollbackConfig": _set(spec.get("RollbackConfig")),
                "LogDriver": live_log_driver(spec.get("TaskTemplate"))}

    def _same(self, spec: dict[str, Any], release: Release) -> bool:
        wanted = self._wanted(release)
        wanted.update(UpdateConfig=_set(wanted["UpdateConfig"]), RollbackConfig=_set(wanted["RollbackConfig"]))
        return self._current(spec) == wanted and self._same_networking(spec, release)

    # -- networking (swarm_network.py) -------------------------------------------

    def _shown(self, release: Release) -> dict[str, Any]:
        """The spec ``preview`` shows: what ``_wanted`` compares, with the networking part when it is ours."""
        net = self._networking(release)
        shown = {"Name": release.service, **self._wanted(release)}
        if net.managed:
            shown.update(Labels=self._labels(release, net), Networks=list(net.networks),
                         EndpointSpec=dict(net.endpoint))
        return shown

    def _same_networking(self, spec: dict[str, Any], release: Release) -> bool:
        """Whether ``spec`` has the networks, endpoint and route labels ``release`` gets (always, when not ours)."""
        net = self._networking(release)
        if not net.managed:
            return True
        from metarepo.proxy.labels import managed

        attached = (spec.get("TaskTemplate") or {}).get("Networks") or []
        return (sorted(self._network_name(n.get("Target", "")) for n in attached) == sorted(net.networks)
                and endpoint_key(spec.get("EndpointSpec")) == endpoint_key(net.endpoint)
                and {k: v for k, v in (spec.get("Labels") or {}).items() if managed(k)} == dict(net.labels))

    def _networking(self, release: Release) -> ServiceNetworking:
        return service_networking(release.project, release.settings, self.networking)

    @staticmethod
    def _labels(release: Release, net: ServiceNetworking) -> dict[str, str]:
        return {**service_labels(release), **net.labels}

    @staticmethod
    def _ours(key: str, net: ServiceNetworking) -> bool:
        """Whether the service label ``key`` is one a rollout sets (and so removes when it no longer applies)."""
        from metarepo.proxy.labels import managed

        return key.startswith(_LABEL) or (net.managed and managed(key))

    def _attachments(self, net: ServiceNetworking) -> list[dict[str, str]]:
        """The TaskTemplate's Networks for ``net``: each proxy network, made when missing, by id."""
        for name in net.networks:
            if name not in self._network_ids:
                self._network_ids[name] = ensure_network(self.api, name)
                self._network_names[self._network_ids[name]] = name
        return [{"Target": self._network_ids[name]} for name in net.networks]

    def _network_name(self, network_id: str) -> str:
        from docker.errors import NotFound

        if network_id not in self._network_names:
            try:
                self._network_names[network_id] = self.api.inspect_network(network_id)["Name"]
            except NotFound:
                self._network_names[network_id] = network_id
        return self._network_names[network_id]

    def preview(self, release: Release) -> Preview:
        detail = json.dumps(self._shown(release), indent=2)
        if self.api is None:
            return Preview(release, Action.UNKNOWN, detail, ((Unknown.EXISTS, self.unreachable),))
        current = self._inspect(release.service)
        if current is None:
            return Preview(release, Action.CREATE, detail)
        action = Action.UNCHANGED if self._same(current["Spec"], release) else Action.UPDATE
        return Preview(release, action, detail)

    # -- changing --------------------------------------------------------------

    def deploy(self, release: Release) -> Applied:
        if self.api is None:
            raise EngineUnavailable(self.unreachable or "no Docker engine to deploy to")
        t0 = self.clock()
        current = self._inspect(release.service)
        if current is not None and self._same(current["Spec"], release) and self._converged(
                current["ID"], release.pinned, release.replicas):
            return Applied(release, created=False, previous=current["Spec"], changed=False,
                           seconds=self.clock() - t0, note="already running this image")
        if current is None:
            net = self._networking(release)
            task: dict[str, Any] = {"ContainerSpec": {"Image": release.pinned, "Labels": service_labels(release)},
                                    "RestartPolicy": {"Condition": "any", "Delay": 1 * _NS}}
            if net.managed:
                task["Networks"] = self._attachments(net)
            with_log_driver(task, release.logging, release.service)
            created = self.api.create_service(
                task, name=release.service, labels=self._labels(release, net),
                mode={"Replicated": {"Replicas": release.replicas}},
                update_config=update_config(release), rollback_config=update_config(release, rollback=True),
                endpoint_spec=dict(net.endpoint) if net.managed else None)
            applied = Applied(release, created=True, previous={"ID": created["ID"]})
            self.in_flight = applied
            try:
                self._wait_created(created["ID"], release, t0)
            except RolloutFailed as exc:
                self.in_flight = None
                self.api.remove_service(created["ID"])
                raise RolloutFailed(f"{exc.message}; the new service was removed") from None
        else:
            spec = current["Spec"]
            applied = Applied(release, created=False, previous=spec)
            self.in_flight = applied
            before = (current.get("UpdateStatus") or {}).get("StartedAt")
            with ServiceWatch(self.api, current["ID"]) as watch:  # listening before the update is submitted
                self._update_to(current["ID"], current["Version"]["Index"], release, spec)
                try:
                    self._wait_updated(current["ID"], release, before, t0, spec, watch.wait)
                except RolloutFailed:
                    self.in_flight = None  # already put back, by Swarm or by us
                    raise
        self.in_flight = None
        return Applied(release, applied.created, applied.previous, True, self.clock() - t0)

    def _update_to(self, service_id: str, version: int, release: Release, spec: dict[str, Any]) -> None:
        task = json.loads(json.dumps(spec.get("TaskTemplate") or {}))
        container = task.setdefault("ContainerSpec", {})
        container["Image"] = release.pinned
        container["Labels"] = {**(container.get("Labels") or {}), **service_labels(release)}
        with_log_driver(task, release.logging, release.service)
        labels = {k: v for k, v in (spec.get("Labels") or {}).items() if not k.startswith(_LABEL)}
        net = self._networking(release)
        labels = {k: v for k, v in labels.items() if not self._ours(k, net)}  # route labels: ours, when managed
        endpoint = spec.get("EndpointSpec")
        if net.managed:
            task["Networks"] = self._attachments(net)
            endpoint = dict(net.endpoint)
        self.api.update_service(service_id, version, task_template=task, name=spec["Name"],
                                labels={**labels, **self._labels(release, net)},
                                mode={"Replicated": {"Replicas": release.replicas}},
                                update_config=update_config(release),
                                rollback_config=update_config(release, rollback=True), endpoint_spec=endpoint)

    def _converged(self, service_id: str, image: str, replicas: int) -> bool:
        live = [t for t in self._tasks(service_id) if t.get("DesiredState") == "running"]
        return (len(live) == replicas
                and all(t["Status"]["State"] == "running" for t in live)
                and all(t["Spec"]["ContainerSpec"]["Image"] == image for t in live))

    def _wait_created(self, service_id: str, release: Release, t0: float) -> None:
        """A new service: every replica running (so healthy) and still so after the monitor window."""
        since = stamp(self.api.inspect_service(service_id)["CreatedAt"])
        healthy_since = None
        monitor = monitor_window(release)
        while True:
            failure = self.tasks.failure(service_id, release.pinned, since)
            if failure:
                raise RolloutFailed(f"{release.service}: {explain(failure)}")
            if self._converged(service_id, release.pinned, release.replicas):
                healthy_since = healthy_since or self.clock()
                if self.clock() - healthy_since >= monitor:
                    return
            else:
                healthy_since = None
            self._check_time(release, t0)
            time.sleep(self.poll)

    def _wait_updated(self, service_id: str, release: Release, before: str | None, t0: float,
                      previous: dict[str, Any], pause: Callable[[float], None] = time.sleep) -> None:
        """Until Swarm says the update completed (with every task on the new image), or it failed.

        ``pause(poll)`` waits between looks; a ``ServiceWatch``'s returns early when the service changes.
        """
        seen_update = False
        reason: str | None = None  # Swarm's message when it began to roll back
        while True:
            service = self.api.inspect_service(service_id)
            status = service.get("UpdateStatus") or {}
            fresh = bool(status) and status.get("StartedAt") != before
            state = status.get("State") if fresh else None
            message = status.get("Message") or ""
            if state:
                seen_update = True
            if state in _SWARM_FAILURES:
                self._put_back(service_id, previous)
                raise RolloutFailed(f"{release.service}: {_SWARM_FAILURES[state]}: {message}; put back as it was")
            if state in ("rollback_started", "rollback_completed") and reason is None:
                reason = message  # names the task that failed; its error is read once it has settled
                self.reporter.note(f"{release.service}: the new version failed; Swarm is rolling back")
            if state == "rollback_completed":
                why = self.tasks.reason(service_id, release.pinned, reason or message)
                raise RolloutFailed(f"{release.service}: {why}; Swarm rolled it back")
            if state == "rollback_started":
                pass
            elif (state == "completed" or not seen_update) and self._converged(service_id, release.pinned,
                                                                                release.replicas):
                if state == "completed" or self.clock() - t0 > 2 * self.poll:
                    return
            lost = self.tasks.stranded(service_id, release.pinned, status.get("StartedAt")) if state else None
            if lost:
                self._put_back(service_id, previous)
                back = self._wait_back(service_id, previous, release.timeout - (self.clock() - t0))
                raise RolloutFailed(f"{release.service}: {lost} went down while the update was starting a task "
                                    f"there, and Swarm's update cannot finish without it; {back}")
            if self.clock() - t0 > release.timeout:
                self._put_back(service_id, previous)
                raise RolloutFailed(f"{release.service}: not live and healthy after {release.timeout:g}s; "
                                    "put back as it was")
            pause(self.poll)

    def _check_time(self, release: Release, t0: float) -> None:
        if self.clock() - t0 > release.timeout:
            raise RolloutFailed(f"{release.service}: not live and healthy after {release.timeout:g}s")

    def _put_back(self, service_id: str, previous: dict[str, Any]) -> None:
        version = self.api.inspect_service(service_id)["Version"]["Index"]
        self.api.update_service(service_id, version, task_template=previous.get("TaskTemplate"),
                                name=previous["Name"], labels=previous.get("Labels") or {},
                                mode=previous.get("Mode"), update_config=previous.get("UpdateConfig"),
                                rollback_config=previous.get("RollbackConfig"),
                                endpoint_spec=previous.get("EndpointSpec"))

    def roll_back(self, applied: Applied, *, timeout: float | None = None) -> str:
        """Put ``applied``'s service back as it was, and wait until that is live again."""
        self.in_flight = None
        release = applied.release
        if applied.created:
            from docker.errors import NotFound

            try:
                self.api.remove_service(applied.previous["ID"])
            except NotFound:
                pass
            return "removed (it was created by this rollout)"
        if not applied.changed:
            return "unchanged"
        current = self._inspect(release.service)
        if current is None:
            return "gone (nothing to put back)"
        self._put_back(current["ID"], applied.previous)
        return self._wait_back(current["ID"], applied.previous, timeout if timeout is not None else release.timeout)

    def _wait_back(self, service_id: str, previous: dict[str, Any], limit: float) -> str:
        """Once a service was put back: wait (up to ``limit`` seconds) until it runs what it ran before."""
        image = ((previous.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image")
        replicas = ((previous.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 1)
        t0 = self.clock()
        while not self._converged(service_id, image, replicas):
            if self.clock() - t0 > limit:
                return f"put back to {image}, not yet converged after {max(limit, 0):g}s"
            time.sleep(self.poll)
        return f"rolled back to {short_reference(image)}"


def _set(config: dict[str, Any] | None) -> dict[str, Any]:
    """An update config without its zero values: the engine leaves those out of what it returns."""
    return {k: v for k, v in (config or {}).items() if v not in (0, 0.0, "", None)}
