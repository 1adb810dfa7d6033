"""A dockerd, and a docker-registry, running inside a network namespace the tests made.

The engine has real networking there: its own docker0 bridge, its own
iptables rules (in that namespace only), overlay networks over the host's
``eth0``. Its data root, exec root, pid file and unix socket live under a
temp dir on the host filesystem, so the host-side docker SDK reaches it as
``DOCKER_HOST=unix://...``. It runs in its own UTS namespace too, so each
engine reports its node name (``node1``...) as its hostname, which is what
Swarm calls the node. Stopped and started again, it keeps its data root:
the node comes back with its swarm membership, as a rebooted machine does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from tests.images.engine import answers, stop_process, wait_until
from tests.netns.namespaces import Host, Namespace, popen_in
from tests.netns.probes import fetch

# Set the hostname inside the new UTS namespace, then become dockerd (argv: hostname, program, args...).
_AS_HOSTNAME = "import os, socket, sys; socket.sethostname(sys.argv[1]); os.execvp(sys.argv[2], sys.argv[2:])"


class Dockerd:
    """One engine on one host; ``stop()`` and ``start()`` may be called again and again (a node lost, back)."""

    def __init__(self, host: Host, base: Path, *, insecure_registries: Sequence[str] = ()):
        self.node = host
        self.base = base
        self.host = f"unix://{base}/docker.sock"  # DOCKER_HOST
        self.log = base / "dockerd.log"
        self._proc: subprocess.Popen | None = None
        base.mkdir(parents=True, exist_ok=True)
        self._config = base / "daemon.json"
        self._config.write_text(json.dumps({
            "insecure-registries": list(insecure_registries),
            "shutdown-timeout": 10,  # test containers stop on SIGTERM; do not wait long for one that does not
        }))

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, seconds: float = 120) -> None:
        if self.running:
            return
        namespace = self.node.namespace.name
        argv = ["unshare", "--uts", "--", sys.executable, "-c", _AS_HOSTNAME, self.node.name,
                "dockerd", "--config-file", str(self._config), "--data-root", str(self.base / "data"),
                "--exec-root", str(self.base / "exec"), "--pidfile", str(self.base / "docker.pid"),
                "--host", self.host, "--containerd-namespace", namespace,
                "--containerd-plugins-namespace", f"{namespace}-plugins"]
        with self.log.open("a") as log:
            self._proc = popen_in(self.node.namespace, argv, stdout=log, stderr=subprocess.STDOUT)
        proc = self._proc
        wait_until(lambda: proc.poll() is None and answers(self.host), seconds, f"dockerd on {self.node.name}",
                   self.log)

    def stop(self, seconds: float = 60) -> None:
        """SIGTERM, as a machine shutting down does: dockerd stops its containers and its containerd."""
        if self._proc is not None:
            stop_process(self._proc, seconds)


def start_registry(namespace: Namespace, address: str, base: Path, seconds: float = 60) -> subprocess.Popen:
    """Debian's docker-registry listening on ``address`` (host:port) inside ``namespace``."""
    (base / "storage").mkdir(parents=True, exist_ok=True)
    config = base / "registry.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                      f"    rootdirectory: {base / 'storage'}\n  delete:\n    enabled: true\n"
                      f"http:\n  addr: {address}\n")
    log = base / "registry.log"
    with log.open("w") as sink:
        proc = popen_in(namespace, ["docker-registry", "serve", str(config)], stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: proc.poll() is None and any(r.status == 200 for r in fetch(
            namespace, f"http://{address}/v2/", timeout=2)), seconds, "docker-registry", log)
    except BaseException:
        stop_process(proc)
        raise
    return proc
