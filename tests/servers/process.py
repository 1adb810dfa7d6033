"""Starting, waiting on and stopping the servers the suite runs: the parts every fixture shares.

`running(argv, ready=...)` starts a server with `launch`, in a session of
its own (so whatever it forks can be found, and ended, by its process
group), its output in a log file; waits until ``ready()`` says it answers,
failing with the log's tail when it exits or takes too long; and `stop`s
it at the end, pass or fail: its pid first, then anything left in its group.
`temp_dir(name)` is the folder a server keeps everything in. `installed`
finds a Debian package's binary (``/usr/sbin`` included), `missing` says
which package to install; `listening(pids)` lists the TCP ports processes
listen on, from /proc.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


@dataclass(frozen=True)
class Validation:
    """What a server's own config check (`haproxy -c`, `nginx -t`, `promtool check ...`) said."""

    ok: bool
    output: str


def validate(argv: Sequence[str]) -> Validation:
    """Run a server's config check: exit 0 means it accepts the config; its output says why not."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return Validation(proc.returncode == 0, (proc.stdout + proc.stderr).strip())


class ConfigRejected(RuntimeError):
    """A server's own check refused a config a test meant to load: the message is what it said."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
        return True
    return False


def installed(tool: str) -> str | None:
    """The path of ``tool``, looking in the sbin folders too (a user's PATH often lacks them)."""
    path = os.pathsep.join([os.environ.get("PATH", os.defpath), *SBIN])
    return shutil.which(tool, path=path)


def missing(tools: dict[str, str]) -> str | None:
    """Why a server cannot start here (``tools`` maps each binary to its Debian package), or None."""
    for tool, package in tools.items():
        if installed(tool) is None:
            return f"{tool} is not installed (apt-get install {package})"
    return None


def wait_until(check: Callable[[], bool], seconds: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up in {seconds:g}s\n{log_tail(log)}")


def log_tail(log: Path | None, size: int = 3000) -> str:
    return log.read_text(errors="replace")[-size:] if log and log.exists() else ""


def launch(argv: Sequence[str], *, log: Path, cwd: Path | None = None, env: dict[str, str] | None = None,
           user: str | None = None) -> subprocess.Popen:
    """Start ``argv`` in a new session, stdin closed, stdout and stderr appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=cwd, env=env, start_new_session=True, user=user, group=user,
                                extra_groups=[] if user else None)


@contextlib.contextmanager
def temp_dir(name: str) -> Iterator[Path]:
    """A fresh folder for one server (short, under /tmp: unix socket paths have a limit), removed after."""
    base = Path(tempfile.mkdtemp(prefix=f"meta-{name}-", dir="/tmp"))
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def running(argv: Sequence[str], *, what: str, log: Path, ready: Callable[[], bool], seconds: float = 60,
            cwd: Path | None = None, env: dict[str, str] | None = None, user: str | None = None,
            stop_signal: int = signal.SIGTERM, logs: Sequence[Path] = ()) -> Iterator[subprocess.Popen]:
    """`launch` ``argv``, wait until ``ready()``, yield the process; `stop` it at the end, whatever happens.

    ``logs`` are more files whose tails explain a server that did not come up.
    """
    proc = launch(argv, log=log, cwd=cwd, env=env, user=user)
    try:
        deadline = time.monotonic() + seconds
        while proc.poll() is None and not ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up in {seconds:g}s\n{_tails(log, *logs)}")
            time.sleep(0.1)
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}\n{_tails(log, *logs)}")
        yield proc
    finally:
        stop(proc, sig=stop_signal)


def _tails(*logs: Path) -> str:
    return "\n".join(tail for tail in map(log_tail, logs) if tail)


def stop(proc: subprocess.Popen, seconds: float = 30, sig: int = signal.SIGTERM) -> None:
    """End ``proc`` by its pid (``sig``, then SIGKILL after ``seconds``), then what is left of its group.

    Raises when something of the group is still running after that.
    """
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if group_members(proc.pid):  # a worker its master left behind
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if left := group_members(proc.pid):
            raise RuntimeError(f"{proc.args[0]} (pid {proc.pid}) left processes running: {left}")


def group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in process group ``pgid``."""
    return [pid for pid, _ppid, pgrp in _processes() if pgrp == pgid]


def children(pid: int) -> set[int]:
    """Pids of the live children of ``pid`` (a master's workers)."""
    return {child for child, ppid, _pgrp in _processes() if ppid == pid}


def _processes() -> Iterator[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every live process, from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid, pgrp = stat[stat.rindex(")") + 2:].split()[:3]  # after "pid (comm) "
        if state != "Z":
            yield int(entry.name), int(ppid), int(pgrp)


def listening(pids: set[int]) -> set[str]:
    """``address:port`` of every TCP socket the processes ``pids`` listen on (/proc/net/tcp and tcp6)."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    address, port = fields[1].split(":")
                    words = bytes.fromhex(address)  # 32-bit words in the host's (little-endian) order
                    raw = b"".join(words[i:i + 4][::-1] for i in range(0, len(words), 4))
                    found.add(f"{socket.inet_ntop(family, raw)}:{int(port, 16)}")
    return found
