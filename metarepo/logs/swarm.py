"""Services' logs from a Swarm manager: one stream per task, read from the engine's API.

``docker service logs`` sends one stream per service, with the lines of its
tasks interleaved as the nodes deliver them, not in time order; a task's
own stream (``GET /tasks/{id}/logs``, which ``docker service logs TASK``
reads) is in order, so each task is one stream of the merge. With
``timestamps`` every line starts with the engine's time, padded to
nanoseconds; stdout and stderr come as the frames of Docker's multiplexed
stream (an 8-byte header: the stream, then the length), and an error the
engine meets while reading (stream 3) is passed on as a note.

The client comes from ``images.engine.connect`` (docker stays in images/);
requests go through its HTTP session, with no read timeout when following.
Following also watches for tasks that start later (a rollout, a restart)
and adds their streams as they appear.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import quote

from metarepo.errors import EngineUnavailable
from metarepo.images.log_driver import destination, live_log_driver, readable
from metarepo.logs.lines import LogLine, Stream, parse_stamp, format_ns

_HEADER = struct.Struct(">BxxxL")
_STREAMS = {1: Stream.STDOUT, 2: Stream.STDERR}
_HISTORY_TIMEOUT = (10, 120)  # connect, and between two reads of one stream
_DISCOVER_SECONDS = 2.0


@dataclass(frozen=True)
class Task:
    service: str
    id: str
    slot: int


@dataclass(frozen=True)
class Service:
    name: str
    id: str
    driver: str
    options: Mapping[str, str]


class SwarmLogs:
    def __init__(self, client: Any, environment: str, *, note: Callable[[str], None]) -> None:
        self.client = client
        self.api = client.api
        self.environment = environment
        self.note = note

    # -- what to read -------------------------------------------------------------

    def services(self, names: Sequence[str]) -> list[Service]:
        """The named services that run here and whose lines the engine keeps; a note for each other one."""
        from requests.exceptions import RequestException  # docker's APIError is one

        from metarepo.images.engine import first_line

        version = str(self.client.version().get("Version", ""))
        default = str(self.client.info().get("LoggingDriver") or "json-file")
        try:
            live = {s["Spec"]["Name"]: s for s in self.api.services()}
        except RequestException as exc:
            raise EngineUnavailable(f"the engine cannot list Swarm services: {first_line(exc)}",
                                    hint=f"is it a Swarm manager? set docker_host for {self.environment} in .meta "
                                         "or DOCKER_HOST") from None
        found = []
        missing = [name for name in names if name not in live]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            self.note(f"{shown}: not running in {self.environment} (no such Swarm service)")
        for name in names:
            spec = live.get(name)
            if spec is None:
                continue
            driver = live_log_driver(spec["Spec"].get("TaskTemplate")) or {"Name": default, "Options": {}}
            if not readable(driver["Name"], driver["Options"], version):
                why = ("the engine keeps no copy (cache-disabled)" if driver["Name"] not in ("none",)
                       and str(driver["Options"].get("cache-disabled", "")).lower() in ("true", "1")
                       else f"the engine ({version}) cannot read them back")
                self.note(f"{name}: its lines go to {destination(driver['Name'], driver['Options'], name)}; {why}, "
                          "so read them there")
                continue
            found.append(Service(name, spec["ID"], driver["Name"], driver["Options"]))
        return found

    def tasks(self, services: Sequence[Service], *, quiet: bool = False) -> list[Task]:
        """Every task of ``services`` that has had a container, by service then slot then age."""
        if not services:
            return []
        by_id = {s.id: s for s in services}
        found = []
        for task in self.api.tasks(filters={"service": list(by_id)}):
            service = by_id.get(task.get("ServiceID"))
            if service is None or not ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID"):
                continue
            found.append((task.get("CreatedAt") or "", Task(service.name, task["ID"], int(task.get("Slot") or 0))))
        order = {s.name: n for n, s in enumerate(services)}
        found.sort(key=lambda pair: (order[pair[1].service], pair[1].slot, pair[0]))
        tasks = [task for _, task in found]
        if not quiet:
            started = {t.service for t in tasks}
            for service in services:
                if service.name not in started:
                    self.note(f"{service.name}: none of its tasks has started in {self.environment}")
        return tasks

    def clock_offset_ns(self) -> int:
        """The engine's clock minus ours (its ``SystemTime``), 0 when it does not say."""
        import time

        stamp = str(self.client.info().get("SystemTime") or "")
        parsed = parse_stamp(stamp) if stamp else None
        return parsed[0] - time.time_ns() if parsed else 0

    # -- reading ------------------------------------------------------------------

    def open(self, task: Task, *, since: float | None, follow: bool) -> tuple[Iterator[LogLine], Callable[[], None]]:
        """A task's lines (its stream already requested), and what closes it from another thread."""
        params = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": int(follow)}
        if since is not None:
            params["since"] = f"{since:.6f}"
        url = f"{self.api.base_url}/v{self.api.api_version}/tasks/{quote(task.id, safe='')}/logs"
        try:
            response = self.api.get(url, params=params, stream=True,
                                    timeout=(10, None) if follow else _HISTORY_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - requests/urllib3 errors: the engine went away
            raise EngineUnavailable(f"cannot read {task.service}'s logs from the engine: {exc}") from None
        if response.status_code != 200:
            message = _engine_message(response)
            response.close()
            self.note(f"{task.service}: the engine would not give task {task.id[:12]}'s logs: {message}")
            return iter(()), lambda: None
        read = _reader(response.raw, follow)
        return self._lines(task, read, response), lambda: _shut(response)

    def _lines(self, task: Task, read: Callable[[], bytes], response: Any) -> Iterator[LogLine]:
        from requests.exceptions import RequestException
        from urllib3.exceptions import HTTPError

        service = task.service
        last = (0, format_ns(0))
        try:
            for kind, payload in _lost_engine(frames(read), service, (RequestException, HTTPError, OSError)):
                text = payload.decode("utf-8", "replace")
                if kind == 3:
                    self.note(f"{service}: the engine said: {text.strip()}")
                    continue
                stamp, _, rest = text.partition(" ")
                parsed = parse_stamp(stamp)
                if parsed is None:
                    parsed, rest = last, text  # no time on the line (an engine without timestamps): keep its place
                last = parsed
                if rest.endswith("\n"):
                    rest = rest[:-1]
                yield LogLine(parsed[0], service, _STREAMS.get(kind, Stream.STDOUT), rest, parsed[1])
        finally:
            response.close()

    def discover(self, services: Sequence[Service], known: set[str], add: Callable[[Task], None],
                 stop: threading.Event) -> None:
        """Until ``stop``: every few seconds, ``add`` each task of ``services`` not yet in ``known``."""
        while not stop.wait(_DISCOVER_SECONDS):
            try:
                tasks = self.tasks(services, quiet=True)
            except Exception:  # noqa: BLE001 - the engine is busy or gone: the streams say so; look again later
                continue
            for task in tasks:
                if task.id not in known and not stop.is_set():
                    known.add(task.id)
                    add(task)


def frames(read: Callable[[], bytes]) -> Iterator[tuple[int, bytes]]:
    """Docker's multiplexed stream as (stream, payload) frames, from ``read()`` returning bytes (b"" at the end)."""
    buffer = b""
    while True:
        data = read()
        if not data:
            return
        buffer = buffer + data if buffer else data
        pos, end = 0, len(buffer)
        while end - pos >= 8:
            kind, size = _HEADER.unpack_from(buffer, pos)
            if end - pos - 8 < size:
                break
            yield kind, buffer[pos + 8:pos + 8 + size]
            pos += 8 + size
        buffer = buffer[pos:]


def _lost_engine(frames_: Iterator[tuple[int, bytes]], service: str,
                 errors: tuple[type[BaseException], ...]) -> Iterator[tuple[int, bytes]]:
    """``frames_``, with the transport's errors as ``EngineUnavailable`` (one line, not a traceback)."""
    try:
        yield from frames_
    except errors as exc:
        raise EngineUnavailable(f"lost the engine while reading {service}'s logs: {exc}") from None


def _reader(raw: Any, follow: bool) -> Callable[[], bytes]:
    """``read()`` for the response: big blocks for history; whatever has arrived when following."""
    if not follow:
        return lambda: raw.read(1 << 16)
    chunks = raw.stream(None, decode_content=False)  # each HTTP chunk as it arrives (the engine flushes a frame)
    return lambda: next(chunks, b"")


def _shut(response: Any) -> None:
    """Unblock a reader waiting on the response's socket (from another thread), then close it."""
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
    try:
        response.close()
    except Exception:  # noqa: BLE001 - already closed by its reader
        pass


def _engine_message(response: Any) -> str:
    try:
        return str(response.json().get("message") or response.status_code)
    except ValueError:
        return f"HTTP {response.status_code}"
