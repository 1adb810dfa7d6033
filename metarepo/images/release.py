"""What a rollout deploys, and the interface every target (Swarm, Kubernetes) implements.

A ``Release`` is one service of the fleet at one commit: the image to run
(by tag and, once the registry is asked, by digest), how many replicas, how
to update and how long it may take. ``environment_settings`` reads an
environment of ``.meta`` into the settings every release of a rollout
shares. A ``Target`` deploys one release at a time and waits until it is
live and healthy, or raises ``RolloutFailed``; ``roll_back`` puts back what
``deploy`` replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Mapping, Protocol

from metarepo.service_names import service_name  # noqa: F401 - re-exported: callers import it from here
from metarepo.errors import ManifestError, MetaError
from metarepo.images.log_driver import LogDriver, logging_settings

SWARM, KUBERNETES = "swarm", "kubernetes"
TARGETS = (SWARM, KUBERNETES)
_ORDERS = ("start-first", "stop-first")


class RolloutFailed(MetaError):
    """One service did not become live and healthy (exit 1)."""


@dataclass(frozen=True)
class Healthcheck:
    """An image's HEALTHCHECK, times in seconds (Docker's defaults where unset)."""

    test: tuple[str, ...]  # exec form: ("CMD", ...) or shell form ("CMD-SHELL", "...")
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0

    @property
    def window(self) -> float:
        """The longest a task can take to be declared unhealthy: the least a monitor window should be."""
        return self.start_period + self.retries * (self.interval + self.timeout)

    @property
    def command(self) -> tuple[str, ...]:
        """The probe as an argv (a shell form runs under /bin/sh -c)."""
        if not self.test:
            return ()
        kind, *rest = self.test
        if kind == "CMD-SHELL":
            return ("/bin/sh", "-c", " ".join(rest))
        return tuple(rest) if kind == "CMD" else tuple(self.test)


@dataclass(frozen=True)
class UpdatePolicy:
    """How a service moves to a new image; rollbacks use the same pace."""

    parallelism: int = 1
    delay: float = 0.0
    monitor: float = 10.0
    order: str = "start-first"
    max_failure_ratio: float = 0.0


@dataclass(frozen=True)
class EnvironmentSettings:
    name: str
    target: str
    replicas: int = 1
    update: UpdatePolicy = field(default_factory=UpdatePolicy)
    timeout: float = 300.0
    docker_host: str | None = None
    context: str | None = None  # kubectl context
    namespace: str | None = None  # Kubernetes namespace
    logging: LogDriver | None = None  # the log driver every service gets (Swarm; see log_driver.py)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Release:
    """One service at one commit, ready to deploy."""

    project: str  # the folder as in .meta
    service: str  # the Swarm service / Kubernetes Deployment name
    image: str  # repository:tag as pushed (``registry/orders:<sha>``)
    sha: str
    version: str | None
    replicas: int
    update: UpdatePolicy
    timeout: float
    digest: str | None = None  # the registry's manifest digest, once resolved
    healthcheck: Healthcheck | None = None
    port: int | None = None  # the container port a Kubernetes Service exposes
    logging: LogDriver | None = None  # the environment's log driver
    settings: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)  # the project's

    @property
    def pinned(self) -> str:
        """The image by digest when known (what actually runs), else by tag."""
        return f"{self.image}@{self.digest}" if self.digest else self.image

    def with_digest(self, digest: str | None, healthcheck: Healthcheck | None) -> "Release":
        return replace(self, digest=digest, healthcheck=healthcheck or self.healthcheck)


class Action(Enum):
    """What deploying a release would do, as ``--dry-run`` shows it."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    UNKNOWN = "unknown"  # the platform could not be asked whether the service exists


class Unknown(Enum):
    """What a dry run could not find out."""

    EXISTS = "exists"  # whether the service exists, so whether it would be created or updated
    DIGEST = "digest"  # the image's digest in the registry, so the spec names the image by tag


@dataclass(frozen=True)
class Preview:
    """What ``deploy`` would do, for ``--dry-run``: an action and the spec or manifests it would apply."""

    release: Release
    action: Action
    detail: str = ""  # the manifests or the service spec, as text
    not_known: tuple[tuple[Unknown, str], ...] = ()  # what could not be found out, and why


@dataclass(frozen=True)
class Applied:
    """A release that ``deploy`` put live: what it replaced, so ``roll_back`` can put it back."""

    release: Release
    created: bool  # the service did not exist before
    previous: Any = None  # the target's record of what ran before (a service spec, a revision)
    changed: bool = True  # False when the service already ran exactly this
    seconds: float = 0.0
    note: str = ""


class Target(Protocol):
    """Where releases go. Implementations never print; they may take a ``Reporter``."""

    kind: str

    def preview(self, release: Release) -> Preview:
        """What deploying ``release`` would change, without changing anything."""

    def deploy(self, release: Release) -> Applied:
        """Create or update the service and wait until every replica is live and healthy.

        Raises ``RolloutFailed`` when it is not (after the platform's own
        rollback of this one service, if it did one); the message says why.
        """

    def roll_back(self, applied: Applied) -> str:
        """Put back what ``applied`` replaced (remove it if it was created); return what was done."""


def _number(raw: Mapping[str, Any], key: str, where: str, default: float, *, minimum: float = 0,
            integer: bool = False, maximum: float | None = None) -> Any:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        kind = "a whole number" if integer else "a number"
        raise ManifestError(f"must be {kind}, not {value!r}", key=f"{where}.{key}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum:g} and {maximum:g}" if maximum is not None else f"at least {minimum:g}"
        raise ManifestError(f"must be {bound}, not {value!r}", key=f"{where}.{key}")
    return value


def environment_settings(name: str, raw: Mapping[str, Any]) -> EnvironmentSettings:
    """Validate one ``metarepo.environments.NAME`` entry of the manifest."""
    where = f"metarepo.environments.{name}"
    if not isinstance(raw, Mapping):
        raise ManifestError("must be an object", key=where)
    target = raw.get("target", SWARM)
    if target not in TARGETS:
        raise ManifestError(f"unknown target {target!r} (swarm or kubernetes)", key=f"{where}.target")
    update_raw = raw.get("update", {})
    if not isinstance(update_raw, Mapping):
        raise ManifestError("must be an object", key=f"{where}.update")
    order = update_raw.get("order", "start-first")
    if order not in _ORDERS:
        raise ManifestError(f"must be start-first or stop-first, not {order!r}", key=f"{where}.update.order")
    update = UpdatePolicy(
        parallelism=_number(update_raw, "parallelism", f"{where}.update", 1, minimum=1, integer=True),
        delay=float(_number(update_raw, "delay", f"{where}.update", 0)),
        monitor=float(_number(update_raw, "monitor", f"{where}.update", 10)),
        order=order,
        max_failure_ratio=float(_number(update_raw, "max_failure_ratio", f"{where}.update", 0, maximum=1)),
    )
    strings = {}
    for key in ("docker_host", "context", "namespace"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ManifestError("must be a non-empty string", key=f"{where}.{key}")
        strings[key] = value
    return EnvironmentSettings(
        name=name, target=target,
        replicas=_number(raw, "replicas", where, 1, minimum=0, integer=True),
        update=update, timeout=float(_number(raw, "timeout", where, 300, minimum=1)),
        logging=logging_settings(raw.get("logging"), f"{where}.logging"), raw=raw, **strings)
