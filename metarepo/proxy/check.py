"""``meta proxy check ENV``: drift between the edge configuration the manifest renders and what is in use.

Against a file (``--against FILE``): the file is compared with what
``meta proxy render`` writes now, line for line (a unified diff), as
``meta ci check`` does for pipelines.

Against a running HAProxy (``--running SOCKET``, or the environment's
``stats_socket``): what the process has loaded, read back through its
runtime API (``runtime.py``), route by route: a route the manifest has and
the proxy lacks, one the proxy has and the manifest dropped, and for each
of the others its hosts, path, service (``tasks.<service>``), port and
number of task slots. That is what a person means by "is the proxy routing
what we said": it does not depend on the file the proxy was started from
still being on disk, and reloading a changed file without restarting is
caught. Only HAProxy can be asked (nginx has no runtime API; compare its
file with ``--against``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metarepo.errors import UsageError

if TYPE_CHECKING:
    from metarepo.manifest import Manifest
    from metarepo.proxy.render import EdgeConfig
    from metarepo.proxy.settings import Route


class DriftKind(Enum):
    MISSING = "missing"  # in the manifest, not in use
    EXTRA = "extra"  # in use, not in the manifest
    CHANGED = "changed"


@dataclass(frozen=True)
class Drift:
    service: str
    kind: DriftKind
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"service": self.service, "kind": self.kind.value, "detail": self.detail or None}


@dataclass(frozen=True)
class DriftReport:
    environment: str
    format: str
    against: str  # the file, or the runtime API address
    drifts: tuple[Drift, ...] = ()
    diff: str = ""  # a unified diff, against a file

    @property
    def in_sync(self) -> bool:
        return not self.drifts and not self.diff

    def as_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "format": self.format, "against": self.against,
                "in_sync": self.in_sync, "drift": [d.as_json() for d in self.drifts], "diff": self.diff or None}


def check_file(manifest: Manifest, env: str, file: Path, format: str | None = None) -> DriftReport:
    """``file`` against what ``meta proxy render ENV`` renders now."""
    from metarepo.proxy.render import render_edge

    edge = render_edge(manifest, env, format)
    try:
        current = Path(file).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return DriftReport(env, edge.format, str(file), (Drift("*", DriftKind.MISSING, f"{file} does not exist"),))
    except OSError as exc:
        raise UsageError(f"{file}: cannot read it ({exc.strerror})") from None
    diff = "".join(difflib.unified_diff(current.splitlines(keepends=True), edge.text.splitlines(keepends=True),
                                        fromfile=str(file), tofile=f"meta proxy render {env}"))
    return DriftReport(env, edge.format, str(file), (), diff)


def check_running(manifest: Manifest, env: str, where: str | None = None) -> DriftReport:
    """The running HAProxy at ``where`` (default: the environment's ``stats_socket``) against the manifest."""
    from metarepo.proxy.render import environment_proxy, render_edge
    from metarepo.proxy.runtime import RuntimeAPI, running_routes

    proxy = environment_proxy(manifest, env)
    where = where or proxy.stats_socket
    if where is None:
        raise UsageError(f"nothing to compare {env}'s routes with", hint="give --against FILE, or --running SOCKET "
                         "(or set the proxy's `stats_socket` in .meta)")
    edge = render_edge(manifest, env, "haproxy")
    running = running_routes(RuntimeAPI(where))
    return DriftReport(env, "haproxy", where, compare(edge, running, proxy.slots))


def compare(edge: EdgeConfig, running: dict[str, Any], slots: int) -> tuple[Drift, ...]:
    """Route by route: what differs between ``edge``'s routes and a running proxy's."""
    drifts = []
    wanted = {route.service: route for route in edge.routes}
    for name, route in wanted.items():
        live = running.get(name)
        if live is None:
            drifts.append(Drift(name, DriftKind.MISSING, f"no backend {name!r} in the running proxy"))
            continue
        differences = _differences(route, live, slots)
        if differences:
            drifts.append(Drift(name, DriftKind.CHANGED, "; ".join(differences)))
    for name, live in running.items():
        if name not in wanted and live.address and live.address.startswith("tasks."):
            drifts.append(Drift(name, DriftKind.EXTRA, f"routes to {live.address}:{live.port}, which no project's "
                                                       "route names"))
    return tuple(drifts)


def _differences(route: Route, live: Any, slots: int) -> list[str]:
    found = []
    if set(route.hosts) != set(live.hosts):
        found.append(f"hosts {_hosts(live.hosts)} running, {_hosts(route.hosts)} in the manifest")
    if route.path != live.path:
        found.append(f"path {live.path} running, {route.path} in the manifest")
    address = f"tasks.{route.service}"
    if live.address != address or live.port != route.port:
        found.append(f"servers {live.address}:{live.port} running, {address}:{route.port} in the manifest")
    if live.slots != slots:
        found.append(f"{live.slots} server slots running, {slots} in the manifest")
    return found


def _hosts(hosts: tuple[str, ...]) -> str:
    return ",".join(sorted(hosts)) or "(any)"
