"""The Kubernetes target: render, validate, ``kubectl apply``, ``kubectl rollout status``, undo on failure.

Everything the cluster sees goes through one seam, ``Kubectl``: an argv
(``kubectl [--context C] [--namespace N] ...``, never a shell string) run by
``metarepo.runner.run_captured`` with a timeout and no standard input but
the manifests. A deploy reads the live Deployment, Service and Ingress
first (the revision is what a rollback goes back to), applies them from
standard input (a routed service has an Ingress), and waits with ``rollout
status --timeout``; then an Ingress metarepo applied for a route that is
gone is deleted. When that fails, the Deployment goes back to the
recorded revision (``rollout undo --to-revision``) and a Service or Ingress
this deploy changed is re-applied from its previous last-applied
configuration (neither has revisions), or what this deploy created is
deleted, before ``RolloutFailed`` is raised with kubectl's own first error
line.
"""

from __future__ import annotations

import json
import math
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from metarepo.errors import EngineUnavailable, Interrupted
from metarepo.images.release import (KUBERNETES, Action, Applied, EnvironmentSettings, Preview, Release, RolloutFailed,
                                     Unknown)
from metarepo.report import NULL, Reporter

REVISION = "deployment.kubernetes.io/revision"
PROJECT_ANNOTATION = "metarepo.io/project"  # on every Ingress metarepo writes (kubernetes_ingress.py)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
KUBECTL_SECONDS = 120.0  # any kubectl call but `rollout status`, which gets the release's timeout
UNREACHABLE = ("Unable to connect to the server", "The connection to the server", "no such host",
               "connection refused", "i/o timeout", "does not exist", "no configuration has been provided",
               "context was not found")


def cluster_unreachable(line: str, environment: str) -> EngineUnavailable | None:
    """The error to raise when kubectl's error ``line`` says the cluster cannot be reached, else None."""
    if not any(marker in line for marker in UNREACHABLE):
        return None
    return EngineUnavailable(f"cannot reach the Kubernetes cluster: {line}",
                             hint=f"is the context right? set `context` for {environment} in .meta"
                                  " or check `kubectl config current-context`")


@dataclass(frozen=True)
class KubectlReply:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def first_error(self) -> str:
        """kubectl's own first error line (``error: ...``, ``Error from server ...``), else its last words."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        for line in lines:
            if line.lower().startswith(("error", "the connection", "unable to")):
                return line
        if lines:
            return lines[0]
        out = [line.strip() for line in self.stdout.splitlines() if line.strip()]
        return out[-1] if out else f"kubectl exited with status {self.returncode}"


class Kubectl:
    """The one way to the cluster: ``kubectl [--context C] [--namespace N] ARGS`` with a timeout."""

    def __init__(self, command: Sequence[str] = ("kubectl",), *, context: str | None = None,
                 namespace: str | None = None, environment: str = "") -> None:
        self.command = tuple(command)
        self.prefix = self.command + (("--context", context) if context else ()) + (
            ("--namespace", namespace) if namespace else ())
        self.environment = environment

    def available(self) -> bool:
        return shutil.which(self.command[0]) is not None

    def require(self) -> None:
        if not self.available():
            raise EngineUnavailable(f"kubectl not found ({self.command[0]!r} is not on PATH)",
                                    hint=f"install kubectl and set `context` for {self.environment or 'the environment'}"
                                         " in .meta (or the current kubectl context)")

    def __call__(self, *args: str, input: str | None = None, timeout: float = KUBECTL_SECONDS) -> KubectlReply:
        from metarepo.runner import child_env, run_captured

        argv = self.prefix + args
        try:
            proc = run_captured(argv, cwd=None, env=child_env(), timeout=timeout, input=input)
        except FileNotFoundError:
            self.require()
            raise
        except subprocess.TimeoutExpired:
            raise RolloutFailed(f"`kubectl {' '.join(args)}` did not finish within {timeout:g}s") from None
        return KubectlReply(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


@dataclass(frozen=True)
class Live:
    """What the cluster runs now under a release's name."""

    deployment: Mapping[str, Any] | None
    service: Mapping[str, Any] | None
    ingress: Mapping[str, Any] | None = None  # asked for only when the release is routed

    @property
    def revision(self) -> str | None:
        if self.deployment is None:
            return None
        return ((self.deployment.get("metadata") or {}).get("annotations") or {}).get(REVISION)

    def stale_ingress(self, manifests: Sequence[Any], project: str) -> bool:
        """Whether the live Ingress is one metarepo applied for ``project`` that these manifests no longer
        have (its route was removed): the deploy deletes it, and putting the release back re-applies it."""
        if self.ingress is None or any(m.kind == "Ingress" for m in manifests):
            return False
        annotations = (self.ingress.get("metadata") or {}).get("annotations") or {}
        return annotations.get(PROJECT_ANNOTATION) == project and bool(annotations.get(LAST_APPLIED))

    def unrevisioned_before(self, manifests: Sequence[Any], project: str) -> dict[str, Any]:
        """What putting the Service (and Ingress) back needs, when these manifests change them.

        A Deployment has revisions to undo to; a Service or an Ingress does
        not. Its last ``kubectl apply`` (the annotation) is what it was, so
        re-applying that restores it, including the removal of what this
        rollout added; one this rollout creates is deleted, and one it
        deletes (``ingress_stale``: the route is gone) is applied again. Keys:
        ``<kind>_existed``, ``<kind>_changed``, ``<kind>_applied``.
        """
        found: dict[str, Any] = {}
        if self.stale_ingress(manifests, project):
            text = ((self.ingress or {}).get("metadata") or {}).get("annotations", {}).get(LAST_APPLIED)
            found.update({"ingress_existed": True, "ingress_changed": True, "ingress_applied": text,
                          "ingress_stale": True})
        for kind, live in (("Service", self.service), ("Ingress", self.ingress)):
            new = next((m.document for m in manifests if m.kind == kind), None)
            key = kind.lower()
            if kind == "Service" or new is not None:
                found[f"{key}_existed"] = live is not None
            if live is None or new is None:
                continue
            before = _last_applied(live)
            if before == _normal(new):
                continue
            text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
            found.update({f"{key}_changed": True, f"{key}_applied": text if before is not None else None})
        return found

    def matches(self, manifests: Sequence[Any], project: str) -> bool:
        """Whether the last ``kubectl apply`` of each object was exactly these manifests, and nothing of
        ``project``'s is left over that they no longer have."""
        live = {"Deployment": self.deployment, "Service": self.service, "Ingress": self.ingress}
        return (all(_last_applied(live.get(m.kind)) == _normal(m.document) for m in manifests)
                and not self.stale_ingress(manifests, project))


class KubernetesTarget:
    """Deployments with rolling updates, gated on readiness, via kubectl (see the module's doc)."""

    kind = KUBERNETES

    def __init__(self, settings: EnvironmentSettings, meta_root: Path, *, kubectl: Sequence[str] = ("kubectl",),
                 reporter: Reporter = NULL) -> None:
        self.settings = settings
        self.meta_root = meta_root
        self.kubectl = Kubectl(kubectl, context=settings.context, namespace=settings.namespace,
                               environment=settings.name)
        self.reporter = reporter
        self.in_flight: Applied | None = None  # applied, not yet seen to finish: what Ctrl-C must put back

    def manifests(self, release: Release) -> tuple[Any, ...]:
        from metarepo.images.kubernetes_manifests import render_kubernetes

        return render_kubernetes(self.meta_root, release, self.settings)

    def preview(self, release: Release) -> Preview:
        from metarepo.images.kubernetes_manifests import manifest_stream

        manifests = self.manifests(release)
        detail = manifest_stream(manifests)
        if not self.kubectl.available():
            return Preview(release, Action.UNKNOWN, detail, ((Unknown.EXISTS, "kubectl not found"),))
        try:
            live = self.live(release, request_timeout=10)
        except (EngineUnavailable, RolloutFailed) as exc:
            return Preview(release, Action.UNKNOWN, detail, ((Unknown.EXISTS, exc.message),))
        if live.deployment is None:
            action = Action.CREATE
        else:
            action = Action.UNCHANGED if live.matches(manifests, release.project) else Action.UPDATE
        return Preview(release, action, detail)

    def live(self, release: Release, *, request_timeout: int = 30) -> Live:
        """The Deployment, Service and Ingress named like ``release``; None for each that is not there.

        The Ingress is asked for even when the release is not routed: one left from a route since removed
        is deleted with the deploy.
        """
        name = release.service
        reply = self.kubectl("get", f"deployment/{name}", f"service/{name}", f"ingress/{name}", "-o", "json",
                             "--ignore-not-found", f"--request-timeout={request_timeout}s")
        if not reply.ok:
            line = reply.first_error
            unreachable = cluster_unreachable(line, self.settings.name)
            if unreachable is not None:
                raise unreachable
            raise RolloutFailed(f"{name}: {line}")
        try:
            data = json.loads(reply.stdout) if reply.stdout.strip() else {"items": []}
        except json.JSONDecodeError:
            raise RolloutFailed(f"{name}: `kubectl get` did not print JSON") from None
        items = data.get("items", []) if data.get("kind", "List") == "List" else [data]
        by_kind = {item.get("kind"): item for item in items if (item.get("metadata") or {}).get("name") == name}
        return Live(by_kind.get("Deployment"), by_kind.get("Service"), by_kind.get("Ingress"))

    def deploy(self, release: Release) -> Applied:
        from metarepo.images.kubernetes_manifests import manifest_stream

        started = time.monotonic()
        manifests = self.manifests(release)  # an invalid manifest stops here, before kubectl is asked
        self.kubectl.require()
        live = self.live(release)
        name, created = release.service, live.deployment is None
        previous = {"revision": live.revision, "deployment_existed": not created,
                    **live.unrevisioned_before(manifests, release.project)}
        if not created and live.matches(manifests, release.project):
            status = self._wait(release)
            if not status.ok:  # not ours to undo: this run changed nothing
                raise RolloutFailed(f"{name}: {status.first_error} (unchanged by this rollout)")
            return Applied(release, created=False, previous=previous, changed=False,
                           seconds=time.monotonic() - started, note="unchanged")
        self.in_flight = Applied(release, created=created, previous=previous, changed=True)
        try:
            reply = self.kubectl("apply", "-f", "-", input=manifest_stream(manifests))
            for line in reply.stdout.splitlines():
                self.reporter.note(f"{name}: {line}")
            if not reply.ok:
                undone = self._put_back(release, previous)
                raise RolloutFailed(f"{name}: kubectl apply failed: {reply.first_error}{undone}")
            status = self._wait(release)
            if not status.ok:
                undone = self._put_back(release, previous)
                raise RolloutFailed(f"{name}: {status.first_error}{undone}")
            removed = self._remove_stale_ingress(release, previous)
        except RolloutFailed:
            self.in_flight = None  # put back already, as far as it could be
            raise
        except (KeyboardInterrupt, Interrupted):
            # The rollout puts ``in_flight`` back; a person who stops that too needs the command.
            self.reporter.note(f"{name}: interrupted after `kubectl apply`; to put it back by hand: "
                               f"{self._undo_command(release, previous)}")
            raise KeyboardInterrupt from None
        self.in_flight = None
        return Applied(release, created=created, previous=previous, changed=True,
                       seconds=time.monotonic() - started, note=_last_line(status.stdout) + removed)

    def roll_back(self, applied: Applied) -> str:
        self.in_flight = None
        if not applied.changed:
            return "unchanged: nothing to roll back"
        self.kubectl.require()
        previous = applied.previous or {}
        if applied.created:
            return self._delete(applied.release, previous)
        name = applied.release.service
        undo = self._undo(name, previous.get("revision"))
        if not undo.ok:
            raise RolloutFailed(f"{name}: rollout undo failed: {undo.first_error}")
        status = self._wait(applied.release)
        if not status.ok:
            raise RolloutFailed(f"{name}: rolled back, but the old revision did not become ready: "
                                f"{status.first_error}")
        return _undo_text(previous.get("revision"), undo) + self._unrevisioned_back(applied.release, previous)

    # -- the steps --------------------------------------------------------------

    def _wait(self, release: Release) -> KubectlReply:
        seconds = math.ceil(release.timeout)
        return self.kubectl("rollout", "status", f"deployment/{release.service}", f"--timeout={seconds}s",
                            timeout=seconds + 30)

    def _undo(self, name: str, revision: str | None) -> KubectlReply:
        to = (f"--to-revision={revision}",) if revision else ()
        return self.kubectl("rollout", "undo", f"deployment/{name}", *to)

    def _remove_stale_ingress(self, release: Release, previous: Mapping[str, Any]) -> str:
        """Once the new revision is ready: delete the Ingress of a route that is gone (put back on failure)."""
        if not previous.get("ingress_stale"):
            return ""
        thing = f"ingress/{release.service}"
        reply = self.kubectl("delete", thing, "--ignore-not-found")
        if not reply.ok:
            undone = self._put_back(release, previous)
            raise RolloutFailed(f"{release.service}: could not remove {thing}, which its route no longer "
                                f"declares: {reply.first_error}{undone}")
        return f"; removed {thing} (no route any more)"

    def _put_back(self, release: Release, previous: Mapping[str, Any]) -> str:
        """After a failed apply or rollout: undo to the recorded revision, or delete what was created."""
        try:
            if not previous.get("deployment_existed"):
                return "; " + self._delete(release, previous)
            if not previous.get("revision"):  # a bare `rollout undo` could go back further than this run did
                return "; no revision was recorded before this rollout, so it was left as it is"
            undo = self._undo(release.service, previous["revision"])
            if not undo.ok:
                return f"; rollout undo failed too: {undo.first_error}"
            status = self._wait(release)
            if not status.ok:
                return f"; rolled back, but the old revision is not ready: {status.first_error}"
            return "; " + _undo_text(previous.get("revision"), undo) + self._unrevisioned_back(release, previous)
        except RolloutFailed as exc:
            return f"; putting it back failed: {exc.message}"

    def _undo_command(self, release: Release, previous: Mapping[str, Any]) -> str:
        """The kubectl command a person runs to do what ``_put_back`` would have done."""
        name, words = release.service, list(self.kubectl.prefix)
        if not previous.get("deployment_existed"):
            words += ["delete", *_created(name, previous)]
        else:
            words += ["rollout", "undo", f"deployment/{name}"] + (
                [f"--to-revision={previous['revision']}"] if previous.get("revision") else [])
        command = " ".join(shlex.quote(w) for w in words)
        if previous.get("deployment_existed"):
            for kind in ("service", "ingress"):
                if previous.get(f"{kind}_applied"):
                    command += f", then re-apply {kind}/{name} from its previous last-applied configuration"
        return command

    def _delete(self, release: Release, previous: Mapping[str, Any]) -> str:
        name = release.service
        targets = _created(name, previous)
        reply = self.kubectl("delete", *targets, "--ignore-not-found")
        if not reply.ok:
            raise RolloutFailed(f"{name}: kubectl delete failed: {reply.first_error}")
        return f"removed {' and '.join(targets)} (created by this rollout)"

    def _unrevisioned_back(self, release: Release, previous: Mapping[str, Any]) -> str:
        """Once the Deployment is back: the Service and Ingress as they were (removed if this rollout made them)."""
        return "".join(self._object_back(release.service, kind, previous) for kind in ("service", "ingress")
                       if f"{kind}_existed" in previous or kind == "service")

    def _object_back(self, name: str, kind: str, previous: Mapping[str, Any]) -> str:
        thing = f"{kind}/{name}"
        if not previous.get(f"{kind}_existed", True):
            reply = self.kubectl("delete", thing, "--ignore-not-found")
            return f"; removed {thing}" if reply.ok else f"; could not remove {thing}: {reply.first_error}"
        if not previous.get(f"{kind}_changed"):
            return ""
        if not previous.get(f"{kind}_applied"):
            return f"; {thing} was changed and had no earlier `kubectl apply` to go back to: left as it is"
        reply = self.kubectl("apply", "-f", "-", input=previous[f"{kind}_applied"])
        if not reply.ok:
            return f"; could not put {thing} back: {reply.first_error}"
        return f"; {thing} put back as it was"


def _created(name: str, previous: Mapping[str, Any]) -> list[str]:
    """The objects a rollout that created ``name``'s Deployment made: what deleting it all takes."""
    return [f"deployment/{name}"] + [f"{kind}/{name}" for kind in ("service", "ingress")
                                     if f"{kind}_existed" in previous and not previous[f"{kind}_existed"]]


def _undo_text(revision: str | None, undo: KubectlReply) -> str:
    where = f"revision {revision}" if revision else "the previous revision"
    return f"rolled back to {where}" + (" (it was still running)" if "skipped rollback" in undo.stdout else "")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _normal(document: Mapping[str, Any] | None) -> Any:
    """A document as ``kubectl apply`` records it, minus what it adds on its own (the namespace)."""
    if document is None:
        return None
    document = json.loads(json.dumps(document))
    metadata = document.get("metadata") or {}
    metadata.pop("namespace", None)
    if not metadata.get("annotations"):
        metadata.pop("annotations", None)
    return document


def _last_applied(live: Mapping[str, Any] | None) -> Any:
    if live is None:
        return None
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        return _normal(json.loads(text)) if text else None
    except json.JSONDecodeError:
        return None
