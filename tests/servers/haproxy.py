"""HAProxy, in master-worker mode, with the config a test gives.

`running_haproxy(config)` writes a `global` section of its own (an admin
stats socket, `hard-stop-after` so a reload never waits long for an old
worker) beside the test's config and starts
``haproxy -W -f global.cfg -f haproxy.cfg -p haproxy.pid -S master.sock``
in a temp dir of its own. It is ready when the worker answers ``show info``
on the stats socket. The test picks its ``bind`` ports with `free_port()`
and binds 127.0.0.1 only.

`HAProxy.reload(config)` checks the new config with ``haproxy -c`` (and
raises `ConfigRejected` with haproxy's words, without touching the running
one), writes it, sends the master SIGUSR2 and returns once the master has
counted the reload and the old worker has gone. `check_config(*files)` is
``haproxy -c -f FILE...`` for a config a test generates. The master is
stopped by its pid at the end, its workers with it.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

from tests.servers.process import (ConfigRejected, Validation, installed, log_tail, running, temp_dir, validate,
                                   wait_until)

PACKAGES = {"haproxy": "haproxy"}


class MasterState(NamedTuple):
    reloads: int
    failed: int
    workers: list[int]
    old_workers: list[int]


@dataclass(frozen=True)
class HAProxy:
    base: Path
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        """The master's pid (what `haproxy.pid` holds)."""
        return self.process.pid

    @property
    def config(self) -> Path:
        return self.base / "haproxy.cfg"

    @property
    def log(self) -> Path:
        return self.base / "haproxy.log"

    @property
    def stats_socket(self) -> Path:
        return self.base / "admin.sock"

    @property
    def master_socket(self) -> Path:
        return self.base / "master.sock"

    def command(self, line: str) -> str:
        """One runtime API command to the worker (``show stat``, ``disable server be/s1``...)."""
        return _ask(self.stats_socket, line)

    def master(self, line: str, seconds: float = 10) -> str:
        """One command to the master CLI (``show proc``).

        The master re-executes itself on a reload, twice (to load the config, then to wait on its worker),
        and its CLI refuses connections meanwhile: this retries for up to ``seconds``.
        """
        deadline = time.monotonic() + seconds
        while True:
            try:
                return _ask(self.master_socket, line)
            except (ConnectionRefusedError, FileNotFoundError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)

    def check(self, config: str) -> Validation:
        """``haproxy -c`` on ``config`` with this instance's global section, changing nothing."""
        candidate = self.base / "candidate.cfg"
        candidate.write_text(config)
        return check_config(self.base / "global.cfg", candidate)

    def reload(self, config: str, seconds: float = 30) -> None:
        checked = self.check(config)
        if not checked.ok:
            raise ConfigRejected(f"haproxy -c refused the new config:\n{checked.output}")
        before = self.state()
        self.config.write_text(config)
        self.process.send_signal(signal.SIGUSR2)
        # The master re-executes itself, forks a new worker and soft-stops the old one; its counts in
        # `show proc` may move before it is done, so "done" is: a worker that was not there before, alone.
        wait_until(lambda: self._reload_ended(before), seconds, "haproxy's reload", self.log)
        if self.state().failed > before.failed:
            raise RuntimeError(f"haproxy's master refused the reload\n{log_tail(self.log)}")

    def _reload_ended(self, before: MasterState) -> bool:
        state = self._state_or_none()
        if state is None:
            return False
        if state.failed > before.failed:
            return True
        old = set(before.workers) | set(before.old_workers)
        return (bool(state.workers) and old.isdisjoint(state.workers) and not state.old_workers
                and _worker_pid(self.stats_socket) in state.workers)

    def state(self) -> MasterState:
        return _parse_show_proc(self.master("show proc"))

    def _state_or_none(self) -> MasterState | None:
        with contextlib.suppress(OSError, ValueError):
            return _parse_show_proc(self.master("show proc", seconds=0))
        return None


def check_config(*files: Path) -> Validation:
    """``haproxy -c -f FILE...``: whether haproxy accepts the config, and what it said."""
    argv = [installed("haproxy") or "haproxy", "-c"]
    for path in files:
        argv += ["-f", str(path)]
    return validate(argv)


@contextlib.contextmanager
def running_haproxy(config: str, seconds: float = 30) -> Iterator[HAProxy]:
    with temp_dir("haproxy") as base:
        (base / "global.cfg").write_text(
            "global\n"
            f"    stats socket {base / 'admin.sock'} mode 600 level admin\n"
            "    hard-stop-after 10s\n")
        (base / "haproxy.cfg").write_text(config)
        argv = [installed("haproxy") or "haproxy", "-W", "-f", str(base / "global.cfg"),
                "-f", str(base / "haproxy.cfg"), "-p", str(base / "haproxy.pid"),
                "-S", f"{base / 'master.sock'},mode,600"]
        with running(argv, what="haproxy", log=base / "haproxy.log", cwd=base, seconds=seconds,
                     ready=lambda: _worker_pid(base / "admin.sock") is not None) as proc:
            yield HAProxy(base, proc)


def _worker_pid(stats_socket: Path) -> int | None:
    """The pid of the worker that answers ``show info`` on the stats socket, or None."""
    with contextlib.suppress(OSError):
        for line in _ask(stats_socket, "show info").splitlines():
            if line.startswith("Pid:"):
                return int(line.split(":", 1)[1])
    return None


def _ask(path: Path, line: str, timeout: float = 2) -> str:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(line.encode() + b"\n")
        sock.shutdown(socket.SHUT_WR)  # the master CLI answers once the client has finished
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def _parse_show_proc(text: str) -> MasterState:
    """The master CLI's ``show proc``: the master's reload and failure counts, current and old workers."""
    reloads = failed = None
    section = "master"
    workers: dict[str, list[int]] = {"workers": [], "old workers": []}
    for line in text.splitlines():
        if line.startswith("# "):
            section = line[2:].strip()
            continue
        fields = line.split()
        if len(fields) < 3 or not fields[0].isdigit():
            continue
        if fields[1] == "master":
            reloads = int(fields[2])
            failed = int(line.split("failed:")[1].split("]")[0]) if "failed:" in line else 0
        elif section in workers and fields[1] == "worker":
            workers[section].append(int(fields[0]))
    if reloads is None:
        raise ValueError(f"no master in haproxy's show proc:\n{text}")
    return MasterState(reloads, failed, workers["workers"], workers["old workers"])
