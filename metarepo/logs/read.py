"""``meta logs ENV``: the selected services' lines from the environment's platform, merged in time order.

``open_logs`` finds the services (each selected project's service name, as
a rollout names it), asks the platform for their streams (Swarm: one per
task; Kubernetes: one per container, or per service's kubectl when
following), and hands back a ``LogSession``: iterate it for the lines,
``close()`` it to end every stream, whatever happened. What it learns on
the way (a service that does not run there, one whose lines went to a
syslog the engine keeps no copy of) goes to ``note`` as it is found.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterable, Iterator, Sequence

from metarepo.manifest import Manifest, Project
from metarepo.logs.lines import LogLine
from metarepo.logs.merge import FollowMerge, merge_history

_SHIPPED = {"syslog", "gelf", "fluentd"}  # drivers whose lines the engine only has in its cache


class LogSession:
    """Lines to iterate once; ``services``: those that could be read; ``close()`` ends every stream."""

    def __init__(self, lines: Iterable[LogLine], closers: Sequence[Callable[[], None]], services: Sequence[str],
                 grep: object | None = None) -> None:
        self._lines = lines
        self._closers = list(closers)
        self.services = tuple(services)
        self.grep = grep  # the LineFilter, whose ``undecided`` counts what it could not decide

    def __iter__(self) -> Iterator[LogLine]:
        return iter(self._lines)

    def close(self) -> None:
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            close()


def service_names(projects: Sequence[Project]) -> list[str]:
    """The service each selected project deploys as (a rollout's names); ``deploy: false`` ones are left out."""
    from metarepo.images.release import service_name

    names = []
    for project in projects:
        if project.setting("deploy", True) is False:
            continue
        if project.cloned and not project.setting("dockerfile") and not (
                project.path / project.setting("context", ".") / "Dockerfile").is_file():
            continue  # nothing it could deploy
        names.append(service_name(project.name, project.settings))
    return list(dict.fromkeys(names))


def open_logs(manifest: Manifest, env: str, projects: Sequence[Project], *, since: float | None = None,
              follow: bool = False, grep: str | None = None, note: Callable[[str], None] = lambda _: None,
              on_idle: Callable[[], None] | None = None, jobs: int = 4) -> LogSession:
    from metarepo.images.release import KUBERNETES, environment_settings

    settings = environment_settings(env, manifest.environment(env))
    line_filter = None
    if grep is not None:
        from metarepo.logs.grep import LineFilter

        line_filter = LineFilter(grep)  # a bad pattern is refused before any platform is asked
    names = service_names(projects)
    if settings.target == KUBERNETES:
        session = _kubernetes(settings, names, since=since, follow=follow, note=note, on_idle=on_idle, jobs=jobs)
    else:
        session = _swarm(settings, names, since=since, follow=follow, note=note, on_idle=on_idle)
    if line_filter is not None:
        session._lines = (line for line in session._lines if line_filter(line.text))
        session.grep = line_filter
    return session


def _swarm(settings, names: list[str], *, since, follow, note, on_idle) -> LogSession:
    from metarepo.images.engine import connect
    from metarepo.logs.swarm import SwarmLogs

    client = connect(settings.docker_host, pool=max(10, 8 * len(names)))  # a connection per task stream
    try:
        swarm = SwarmLogs(client, settings.name, note=note)
        services = swarm.services(names)
        tasks = swarm.tasks(services)
    except BaseException:
        client.close()
        raise
    if not services:
        client.close()
        return LogSession((), (), ())
    if not follow:
        def read(task) -> Iterator[LogLine]:
            lines, _ = swarm.open(task, since=since, follow=False)
            yield from lines

        streams = [read(task) for task in tasks]
        lines = _say_where_silent(merge_history(streams), services, note)
        return LogSession(lines, [client.close, *[s.close for s in streams]], [s.name for s in services])

    merge = FollowMerge(offset_ns=swarm.clock_offset_ns(), on_idle=on_idle,
                        on_error=lambda name, error: note(f"{name}: its stream ended: {error}"))
    stop = threading.Event()
    known = {task.id for task in tasks}

    def add(task) -> None:
        lines, close = swarm.open(task, since=since, follow=True)
        merge.add(task.service, lines, close)

    try:
        for task in tasks:
            add(task)
    except BaseException:
        merge.close()
        client.close()
        raise
    watcher = threading.Thread(target=swarm.discover, args=(services, known, add, stop), name="meta-logs-tasks",
                               daemon=True)
    watcher.start()

    def stop_watching() -> None:
        stop.set()
        watcher.join(timeout=5)

    return LogSession(merge, [client.close, merge.close, stop_watching], [s.name for s in services])


def _kubernetes(settings, names: list[str], *, since, follow, note, on_idle, jobs: int) -> LogSession:
    from metarepo.images.kubernetes import Kubectl
    from metarepo.logs.kubernetes import KubernetesLogs

    kubectl = Kubectl(context=settings.context, namespace=settings.namespace, environment=settings.name)
    cluster = KubernetesLogs(kubectl, settings.name, note=note, jobs=jobs)
    if not names:
        return LogSession((), (), ())
    if not follow:
        return LogSession(merge_history(cluster.history(names, since=since)), (), names)
    merge = FollowMerge(on_idle=on_idle, on_error=lambda name, error: note(f"{name}: kubectl logs ended: {error}"))
    try:
        for name in names:
            lines, close = cluster.follow(name, since=since)
            merge.add_split(name, lines, close)
    except BaseException:
        merge.close()
        raise
    merge.seal()
    return LogSession(merge, [merge.close], names)


def _say_where_silent(lines: Iterator[LogLine], services, note: Callable[[str], None]) -> Iterator[LogLine]:
    """``lines``; once they are all read, a note for each shipping service that gave none, saying where they went.

    The engine answers with no lines and no error when a driver's local
    copy is off for the whole daemon (``cache-disabled`` in its
    ``daemon.json``, which the API does not show), so silence is the sign.
    """
    from metarepo.images.log_driver import destination

    seen: set[str] = set()
    for line in lines:
        seen.add(line.service)
        yield line
    for service in services:
        if service.name not in seen and service.driver in _SHIPPED:
            note(f"{service.name}: the engine has no lines of it; its log driver sends them to "
                 f"{destination(service.driver, service.options, service.name)} (if the engine's local copy, "
                 "dual logging, is off, read them there)")
