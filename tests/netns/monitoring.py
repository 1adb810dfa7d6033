"""A Prometheus inside a node's network namespace, scraping the containers of that node's engine.

``prometheus_in(namespace, docker_host)`` starts Debian's ``prometheus``
under ``nsenter --net`` on 127.0.0.1 of the namespace, with its files in a
temp dir on the host, and stops it by its pid at the end. It finds the
engine's containers with Prometheus' Docker discovery (``docker_sd_configs``,
over the engine's unix socket, which is a file on the host and so reachable
from any namespace) and scrapes each on its address on the engine's
default bridge, port 80, path ``/metrics``: what the node's own network can
reach. Each series is labelled as metarepo's rendered configs label them:
``service`` (the Swarm service), ``version`` (the task's
``io.metarepo.version``, else its ``io.metarepo.sha``) and ``environment``.

The test process itself sits in the host's namespace and cannot reach
that 127.0.0.1: ``NamespaceCalls`` runs calls on a thread that has joined
the namespace (``setns(2)`` on one thread only), for readiness checks and
queries. ``meta`` itself is run under ``nsenter --net`` (``meta_in``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import subprocess
import sys
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from tests.netns.namespaces import Namespace
from tests.servers.process import installed, running, temp_dir
from tests.servers.web import answers, call

CLONE_NEWNET = 0x40000000
PORT = 19090  # inside the namespace, where nothing else listens on it


class NamespaceCalls:
    """Run callables inside ``namespace``'s network, on one thread that joined it."""

    def __init__(self, namespace: Namespace):
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="netns", initializer=_join, initargs=(namespace.path,))

    def __call__(self, work: Callable[..., Any], *args: Any) -> Any:
        return self._pool.submit(work, *args).result()

    def close(self) -> None:
        self._pool.shutdown()


def _join(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


@dataclass(frozen=True)
class NamespacedPrometheus:
    url: str  # as seen from inside the namespace
    calls: NamespaceCalls
    log: Path

    def query(self, expr: str) -> list[dict]:
        reply = self.calls(call, f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
        return reply.json()["data"]["result"]


def config(docker_host: str, environment: str) -> str:
    relabel = [
        {"source_labels": ["__meta_docker_container_label_com_docker_swarm_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_docker_container_label_io_metarepo_sha"], "target_label": "version"},
        {"source_labels": ["__meta_docker_container_label_io_metarepo_version"], "regex": "(.+)",
         "target_label": "version"},
        {"source_labels": ["__meta_docker_container_name"], "regex": "/?(.*)", "target_label": "task"},
        {"target_label": "environment", "replacement": environment},
    ]
    return json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{
            "job_name": "tasks", "metrics_path": "/metrics",
            "docker_sd_configs": [{"host": docker_host, "port": 80, "refresh_interval": "1s",
                                   "filters": [{"name": "label", "values": ["io.metarepo.project"]}]}],
            "relabel_configs": relabel}],
    }, indent=2)


@contextlib.contextmanager
def prometheus_in(namespace: Namespace, docker_host: str, *, environment: str = "staging",
                  seconds: float = 60) -> Iterator[NamespacedPrometheus]:
    calls = NamespaceCalls(namespace)
    try:
        with temp_dir("netns-prometheus") as base:
            (base / "prometheus.yml").write_text(config(docker_host, environment))
            url = f"http://127.0.0.1:{PORT}"
            argv = ["nsenter", f"--net={namespace.path}", "--", installed("prometheus") or "prometheus",
                    f"--config.file={base / 'prometheus.yml'}", f"--storage.tsdb.path={base / 'data'}",
                    f"--web.listen-address=127.0.0.1:{PORT}"]
            log = base / "prometheus.log"
            with running(argv, what="prometheus in a namespace", log=log, cwd=base, seconds=seconds,
                         ready=lambda: calls(answers, f"{url}/-/ready")):
                yield NamespacedPrometheus(url, calls, log)
    finally:
        calls.close()


def meta_in(namespace: Namespace, *args: str, cwd: Path, env: dict[str, str],
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``meta ARGS`` as a user on that node would run it: inside the namespace's network."""
    return subprocess.run(["nsenter", f"--net={namespace.path}", "--", sys.executable, "-m", "metarepo", *args],
                          cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
