"""Network namespaces wired to one bridge: the machines the netns tests run engines on.

``wired_namespaces(count)`` makes a "switch" namespace holding a bridge, and
``count`` host namespaces, each with a veth ``eth0`` into that bridge and an
address on a private /24 (10.231.x.0/24). Nothing is done in the host's own
network namespace: every link, address, route and iptables rule lives in a
namespace made here, and every namespace is deleted on the way out (after
the processes still in it, all started by the tests, are killed by pid),
which also destroys the veth pairs.

``run_in``/``popen_in`` start a program inside a namespace's network with
``nsenter --net`` (not ``ip netns exec``, which remounts /sys and hides the
cgroups dockerd needs).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

NETNS_DIR = Path("/run/netns")
PREFIX = "mtnet-"  # every namespace these tests make starts with this


@dataclass(frozen=True)
class Namespace:
    name: str

    @property
    def path(self) -> str:
        return str(NETNS_DIR / self.name)


@dataclass(frozen=True)
class Host:
    """One machine: a namespace and its address on the switch."""

    name: str  # node1, node2...: also the hostname its engine reports
    namespace: Namespace
    address: str


@dataclass(frozen=True)
class Wiring:
    switch: Namespace  # holds the bridge; requests from here come from "outside" every host
    gateway: str  # the switch's own address on the bridge
    hosts: tuple[Host, ...]


def run_in(namespace: Namespace, argv: Sequence[str], *, timeout: float = 60, check: bool = True,
           input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside ``namespace``'s network; raises with its output when it fails and ``check``."""
    proc = subprocess.run(["nsenter", f"--net={namespace.path}", "--", *argv], capture_output=True, text=True,
                          timeout=timeout, input=input, stdin=subprocess.DEVNULL if input is None else None)
    if check and proc.returncode != 0:
        raise RuntimeError(f"in {namespace.name}: {' '.join(argv)} exited {proc.returncode}: "
                           f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc


def popen_in(namespace: Namespace, argv: Sequence[str], **kwargs) -> subprocess.Popen:
    """Start ``argv`` inside ``namespace``'s network; nsenter execs it, so the pid is the program's own."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs.setdefault("start_new_session", True)
    return subprocess.Popen(["nsenter", f"--net={namespace.path}", "--", *argv], **kwargs)


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


def pids_in(namespace: Namespace) -> list[int]:
    proc = subprocess.run(["ip", "netns", "pids", namespace.name], capture_output=True, text=True, timeout=30)
    return [int(word) for word in proc.stdout.split()] if proc.returncode == 0 else []


def delete_namespace(namespace: Namespace, seconds: float = 15) -> None:
    """Kill what is left in ``namespace`` (only the tests' own processes run there), then delete it."""
    if not os.path.exists(namespace.path):
        return
    deadline = time.monotonic() + seconds
    while (pids := pids_in(namespace)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    _ip("netns", "delete", namespace.name)


def leftovers(prefix: str = PREFIX) -> list[str]:
    """Namespaces named ``prefix``... that still exist."""
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))
    except FileNotFoundError:
        return []


def reap_stale(prefix: str = PREFIX) -> list[str]:
    """Delete the namespaces of test runs that are gone (killed with SIGKILL, say), with what still runs there.

    A namespace is named ``PREFIX<pid>-...`` after the run that made it; one
    whose run is still alive (another session, or this one) is left alone.
    Returns the names deleted.
    """
    reaped = []
    for name in leftovers(prefix):
        pid = name[len(PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or process_alive(int(pid)):
            continue
        with contextlib.suppress(RuntimeError, OSError, subprocess.SubprocessError):
            delete_namespace(Namespace(name))
            reaped.append(name)
    return reaped


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@contextlib.contextmanager
def wired_namespaces(count: int, *, subnet: str = "10.231.1") -> Iterator[Wiring]:
    """``count`` hosts at ``subnet``.1, .2... on a bridge whose own address is ``subnet``.254."""
    reap_stale()  # a run killed before its cleanup leaves engines running in its namespaces
    tag = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:4]}"  # the pid says which test run made it
    switch = Namespace(f"{tag}-sw")
    made: list[Namespace] = []
    try:
        _ip("netns", "add", switch.name)
        made.append(switch)
        _ip("-n", switch.name, "link", "set", "lo", "up")
        _ip("-n", switch.name, "link", "add", "br0", "type", "bridge")
        _ip("-n", switch.name, "addr", "add", f"{subnet}.254/24", "dev", "br0")
        _ip("-n", switch.name, "link", "set", "br0", "up")
        hosts = []
        for index in range(1, count + 1):
            host = Host(f"node{index}", Namespace(f"{tag}-n{index}"), f"{subnet}.{index}")
            _ip("netns", "add", host.namespace.name)
            made.append(host.namespace)
            port = f"p{index}"
            _ip("-n", switch.name, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
                host.namespace.name)
            _ip("-n", switch.name, "link", "set", port, "master", "br0")
            _ip("-n", switch.name, "link", "set", port, "up")
            for args in (("link", "set", "lo", "up"), ("addr", "add", f"{host.address}/24", "dev", "eth0"),
                         ("link", "set", "eth0", "up")):
                _ip("-n", host.namespace.name, *args)
            hosts.append(host)
        yield Wiring(switch=switch, gateway=f"{subnet}.254", hosts=tuple(hosts))
    finally:
        errors = []
        for namespace in reversed(made):
            try:
                delete_namespace(namespace)
            except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                errors.append(str(error))
        left = leftovers(tag)
        if errors or left:
            raise RuntimeError(f"network namespaces not cleaned up: {left} {errors}")
