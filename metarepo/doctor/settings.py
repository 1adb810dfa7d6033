"""The manifest settings the scorecard reads that other capabilities own, asked of their owners.

The proxy (``route``, ``expose``, ``publish``), the monitoring (``metrics``,
``slo``), the broker (an environment's ``broker``) and the logs (an
environment's ``logging``) each read and check their own settings; the
scorecard asks those same readers, so a setting the command would refuse is
never scored as fine. A refused value is reported here as "declared but
malformed" (a failed check carrying the owner's one line), never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from metarepo.errors import MetaError
from metarepo.manifest import Manifest, Project

@dataclass(frozen=True)
class Declared:
    """Whether a setting is there, and if it is there but unusable, why (``problem``)."""

    present: bool
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.present and not self.problem


MISSING = Declared(False)


def _declared(setting: str, read: Callable[[], Any]) -> Declared:
    """What an owner's reader says: nothing there, there and usable, or there and refused (its words,
    without the file and the key the scorecard names itself; a key inside ``setting`` is kept)."""
    try:
        value = read()
    except MetaError as exc:
        return Declared(True, _own_words(exc, setting))
    return MISSING if value is None else Declared(True)


def _own_words(exc: MetaError, setting: str) -> str:
    from metarepo.errors import ManifestError

    if not isinstance(exc, ManifestError):
        return exc.message
    text = exc.message
    for where in (exc.file, exc.key):
        if where and text.startswith(f"{where}: "):
            text = text[len(where) + 2:]
    inner = (exc.key or "").rpartition(f".{setting}.")[2] if f".{setting}." in (exc.key or "") else ""
    return f"{inner}: {text}" if inner else text


def route(project: Project) -> Declared:
    from metarepo.proxy.settings import route_of

    return _declared("route", lambda: route_of(project))


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
    from metarepo.monitor.settings import project_metrics

    return _declared("metrics", lambda: project_metrics(project))


def slo(project: Project) -> Declared:
    from metarepo.monitor.settings import project_slo

    return _declared("slo", lambda: project_slo(project))


def environment_setting(manifest: Manifest, key: str) -> dict[str, Declared]:
    """Each environment's ``key`` (``broker``, ``logging``), by environment name, as its owner reads it."""
    out = {}
    for name, env in manifest.environments.items():
        if name.startswith("//") or not isinstance(env, Mapping):
            continue
        if key == "broker":
            from metarepo.broker.settings import broker_settings

            out[name] = _declared("broker", lambda: broker_settings(name, env))
        else:
            from metarepo.images.log_driver import logging_settings

            out[name] = _declared("logging", lambda: logging_settings(env.get("logging"), f"metarepo.environments.{name}.logging"))
    return out
