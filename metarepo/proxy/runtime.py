"""A running HAProxy's routes, read back through its runtime API (the stats socket).

``RuntimeAPI(where)`` talks to the socket a ``stats socket`` line opens: a
unix socket path (``/run/haproxy/admin.sock``, or ``unix:/...``) or
``tcp://HOST:PORT`` (``stats socket ipv4@HOST:PORT``). One command per
connection, with a time limit.

``running_routes`` rebuilds the routing table from what the process has
loaded, not from a file on disk that may have changed since:

- ``show backend``: the backends;
- ``show servers state <backend>``: each backend's servers, their DNS
  name (``tasks.<service>``) and port, and how many slots there are;
- ``show acl`` and ``show acl #<id>``: every ACL in the order of the
  config with its patterns. A config rendered by ``meta proxy render``
  begins each route's ACLs with one on a constant naming its backend
  (``acl route_orders str(orders) -m str orders``), then its hosts
  (``req.hdr(host)``) and paths (``path``), so the ACLs that follow a
  marker are that route's.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from metarepo.errors import EngineUnavailable, UsageError

SECONDS = 5.0
_ACL_LINE = re.compile(r"^(?P<id>\d+) \([^)]*\) acl '(?P<fetch>[^']+)' file '(?P<file>[^']*)' line (?P<line>\d+)")


@dataclass(frozen=True)
class RunningRoute:
    """One backend of a running HAProxy and what routes to it."""

    backend: str
    hosts: tuple[str, ...] = ()
    path: str = "/"
    address: str | None = None  # the servers' DNS name (tasks.<service>), when they have one
    port: int | None = None
    slots: int = 0


class RuntimeAPI:
    """HAProxy's runtime API at ``where`` (a unix socket path, ``unix:PATH`` or ``tcp://HOST:PORT``)."""

    def __init__(self, where: str, *, timeout: float = SECONDS) -> None:
        self.where = where
        self.timeout = timeout
        if where.startswith("tcp://"):
            host, _, port = where[len("tcp://"):].rpartition(":")
            if not host or not port.isdigit():
                raise UsageError(f"{where!r} is not tcp://HOST:PORT")
            self.family, self.address = socket.AF_INET6 if ":" in host else socket.AF_INET, (host.strip("[]"),
                                                                                              int(port))
        elif where.startswith(("/", "unix:")):
            self.family, self.address = socket.AF_UNIX, where.removeprefix("unix:")
        else:
            raise UsageError(f"{where!r} is not an HAProxy runtime API address: give the stats socket's path or "
                             "tcp://HOST:PORT")

    def ask(self, command: str) -> str:
        """One command's whole answer."""
        try:
            with socket.socket(self.family, socket.SOCK_STREAM) as conn:
                conn.settimeout(self.timeout)
                conn.connect(self.address)
                conn.sendall(command.encode() + b"\n")
                conn.shutdown(socket.SHUT_WR)  # one command: HAProxy answers it and closes
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise EngineUnavailable(f"cannot ask HAProxy's runtime API at {self.where}: {exc.strerror or exc}",
                                    hint="is HAProxy running with a `stats socket` there? The proxy's "
                                         "`stats_socket` in .meta renders that line") from None
        answer = b"".join(chunks).decode("utf-8", "replace")
        if answer.startswith(("Unknown command", "Permission denied")):
            raise EngineUnavailable(f"HAProxy's runtime API at {self.where} refused `{command}`: "
                                    f"{answer.splitlines()[0]}", hint="the socket needs `level admin` or "
                                    "`level operator`")
        return answer


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def running_routes(api: RuntimeAPI) -> dict[str, RunningRoute]:
    """Backend name to what the running HAProxy routes to it."""
    backends = [row[0] for row in _rows(api.ask("show backend"))]
    routes = {name: RunningRoute(name) for name in backends}
    for name in backends:
        answer = api.ask(f"show servers state {name}")
        header = next((line[1:].split() for line in answer.splitlines() if line.startswith("# be_id")), [])
        rows = [row for row in _rows(answer) if len(row) == len(header)]
        fqdn = {row[header.index("srv_fqdn")] for row in rows} - {"-"} if "srv_fqdn" in header else set()
        ports = {row[header.index("srv_port")] for row in rows} if "srv_port" in header else set()
        address = sorted(fqdn)[0] if len(fqdn) == 1 else (", ".join(sorted(fqdn)) or None)
        port = int(next(iter(ports))) if len(ports) == 1 and next(iter(ports)).isdigit() else None
        routes[name] = RunningRoute(name, address=address, port=port, slots=len(rows))
    current: str | None = None
    found: dict[str, dict] = {}
    for line in api.ask("show acl").splitlines():
        match = _ACL_LINE.match(line)
        if not match:
            continue
        fetch = match.group("fetch")
        if fetch not in ("str", "req.hdr", "hdr", "path", "path_beg"):
            continue
        patterns = [row[1] for row in _rows(api.ask(f"show acl #{match.group('id')}")) if len(row) > 1]
        if fetch == "str":
            current = patterns[0] if patterns else None
            if current is not None:
                found[current] = {}
        elif current is not None and fetch in ("req.hdr", "hdr"):
            found[current]["hosts"] = tuple(p.lower() for p in patterns)
        elif current is not None and fetch == "path" and patterns:
            found[current]["path"] = patterns[0]
    for name, parts in found.items():
        if name in routes:
            old = routes[name]
            routes[name] = RunningRoute(name, parts.get("hosts", ()), parts.get("path", "/"), old.address, old.port,
                                        old.slots)
    return routes
