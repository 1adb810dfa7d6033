"""nginx, with the ``http {}`` content a test gives, all of its files in one temp dir.

`running_nginx(http)` writes ``nginx.conf`` around the test's text: its
temp paths (``client_body_temp_path`` and the others, which Debian's build
points at /var/lib/nginx), the access log and a probe server of its own on a
free 127.0.0.1 port; the error log goes to the temp dir with ``-e`` (which
nginx opens before it reads any config) and the pid file and foreground
mode with ``-g``. Run as root it says ``user root;`` (its workers then read
the temp dir like the master). It is ready when the probe server answers
with this config's generation.

`Nginx.reload(http)` checks the new config with ``nginx -t`` (raising
`ConfigRejected` with nginx's words, changing nothing), writes it, sends the
master SIGHUP, and returns once the probe answers with the new generation and
the old workers have gone. `Nginx.check(http)` is that ``nginx -t``. The test
picks its ``listen`` ports with `free_port()` and listens on 127.0.0.1 only;
``main`` is extra text for the main context (a ``stream {}`` block).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.servers.process import (ConfigRejected, Validation, children, free_port, installed, running, temp_dir,
                                   validate, wait_until)
from tests.servers.web import call

PACKAGES = {"nginx": "nginx"}
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass
class Nginx:
    base: Path  # the prefix (-p): relative paths in the config are relative to it
    probe_port: int
    process: subprocess.Popen
    generation: int = 1  # how many configs it has loaded

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def config(self) -> Path:
        return self.base / "nginx.conf"

    @property
    def error_log(self) -> Path:
        return self.base / "error.log"

    @property
    def access_log(self) -> Path:
        return self.base / "logs" / "access.log"

    def check(self, http: str, main: str = "") -> Validation:
        """``nginx -t`` on the config these would make, changing nothing."""
        candidate = self.base / "candidate.conf"
        candidate.write_text(_config(self.base, self.probe_port, self.generation + 1, http, main))
        return _test(self.base, candidate)

    def reload(self, http: str, main: str = "", seconds: float = 30) -> None:
        checked = self.check(http, main)
        if not checked.ok:
            raise ConfigRejected(f"nginx -t refused the new config:\n{checked.output}")
        old_workers = children(self.pid)
        self.generation += 1
        self.config.write_text(_config(self.base, self.probe_port, self.generation, http, main))
        self.process.send_signal(signal.SIGHUP)
        wait_until(lambda: self._serves_generation() and old_workers.isdisjoint(children(self.pid)), seconds,
                   "nginx's reload", self.error_log)

    def _serves_generation(self) -> bool:
        return _serves(self.probe_port, self.generation)


@contextlib.contextmanager
def running_nginx(http: str, main: str = "", seconds: float = 30) -> Iterator[Nginx]:
    with temp_dir("nginx") as base:
        (base / "logs").mkdir()
        (base / "tmp").mkdir()
        probe = free_port()
        (base / "nginx.conf").write_text(_config(base, probe, 1, http, main))
        with running(_argv(base, base / "nginx.conf"), what="nginx", log=base / "nginx.out", cwd=base,
                     seconds=seconds, ready=lambda: _serves(probe, 1), logs=[base / "error.log"],
                     stop_signal=signal.SIGQUIT) as proc:  # SIGQUIT: workers finish their requests, then all exit
            yield Nginx(base, probe, proc)


def _serves(probe_port: int, generation: int) -> bool:
    """Whether the probe server answers with config ``generation`` (a worker of that config serves)."""
    with contextlib.suppress(OSError):
        return call(f"http://127.0.0.1:{probe_port}/", timeout=2).text == f"generation {generation}"
    return False


def _argv(base: Path, config: Path) -> list[str]:
    return [installed("nginx") or "nginx", "-p", f"{base}/", "-c", str(config), "-e", str(base / "error.log"),
            "-g", f"daemon off; pid {base / 'nginx.pid'};"]


def _test(base: Path, config: Path) -> Validation:
    return validate([*_argv(base, config), "-t", "-q"])


def _config(base: Path, probe: int, generation: int, http: str, main: str) -> str:
    temp_paths = "".join(f"    {name}_temp_path {base / 'tmp' / name};\n" for name in TEMP_PATHS)
    return ("user root;\n" if os.geteuid() == 0 else "") + (
        "worker_processes 1;\n"
        "worker_shutdown_timeout 10s;\n"
        "events { worker_connections 256; }\n"
        f"{main}\n"
        "http {\n"
        f"{temp_paths}"
        "    access_log logs/access.log;\n"
        f"    server {{ listen 127.0.0.1:{probe}; location = / {{ return 200 \"generation {generation}\"; }} }}\n"
        f"{http}\n"
        "}\n")
