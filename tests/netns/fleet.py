"""A routed fleet for the netns clusters: service repos built FROM the busybox web image, a meta repo, `meta` run.

``make_proxied_fleet`` publishes one bare remote per service (a Dockerfile
``FROM <registry>/netns/httpd:1`` with ``ENV RELEASE=<name>-1``: each
reply is ``<container hostname> unknown <name>-<release>``) and a meta repo
whose ``staging`` environment is proxied (HAProxy on the ``edge`` overlay,
``dnsrr`` endpoints: there is no IPVS here) and knows each node's engine
(``node_docker_host``), then clones it with ``meta clone``. ``release``
commits a new release of a service (``RELEASE=<name>-<n>``; ``broken=True`` makes it
listen on port 81, so its HEALTHCHECK and the proxy's check both fail).

Module-scoped fixtures run before the suite's per-test git identity, so
every git and ``meta`` call here carries its own (``GIT_ENV``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import GIT_ENV, run_meta
from tests.netns.cluster import NetnsCluster

EDGE = "edge"  # the proxy's overlay network
DOCKERFILE = "FROM {base}\nENV RELEASE={name}-{release}\n{extra}"  # each reply ends with "<name>-<release>"


def git_env(cluster: NetnsCluster | None = None) -> dict[str, str]:
    return {**GIT_ENV, "GIT_CONFIG_GLOBAL": os.devnull, **(cluster.env if cluster else {})}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **git_env()}).stdout.strip()


def meta(cluster: NetnsCluster, *args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``meta ARGS`` as a process, talking to the cluster's manager (DOCKER_HOST)."""
    return run_meta(*args, cwd=cwd, env=git_env(cluster), timeout=timeout)


def make_proxied_fleet(base: Path, cluster: NetnsCluster, base_image: str, routes: dict[str, dict[str, Any]],
                       *, replicas: int = 3, monitor: float = 1, proxy: dict[str, Any] | None = None) -> Path:
    """Service repos ``services/<name>`` routed as ``routes`` says, cloned; returns the meta repo's folder."""
    remotes = base / "remotes"
    remotes.mkdir(parents=True)
    projects: dict[str, str] = {}
    for name in routes:
        src = base / "src" / name
        src.mkdir(parents=True)
        (src / "Dockerfile").write_text(DOCKERFILE.format(base=base_image, name=name, release=1, extra=""))
        _publish(src, remotes / f"{name}.git")
        projects[f"services/{name}"] = f"file://{remotes}/{name}.git"
    nodes = {node.node.name: node.host for node in cluster.nodes}
    staging = {"target": "swarm", "replicas": replicas, "timeout": 120, "endpoint_mode": "dnsrr",
               "update": {"parallelism": 1, "delay": 0, "monitor": monitor, "order": "start-first"},
               "proxy": {"kind": "haproxy", "network": EDGE, "monitor_uri": "/proxy-up", "slots": 8, **(proxy or {})},
               "node_docker_host": nodes}
    meta_src = base / "src" / "meta"
    meta_src.mkdir()
    (meta_src / ".meta").write_text(json.dumps({
        "projects": projects,
        "metarepo": {"defaults": {"registry": f"{cluster.registry}/fleet"},
                     "projects": {f"services/{name}": {"route": route, "port": 80} for name, route in routes.items()},
                     "environments": {"staging": staging}}}, indent=2) + "\n")
    _publish(meta_src, remotes / "meta.git")
    root = base / "ws"
    proc = meta(cluster, "clone", f"file://{remotes}/meta.git", str(root))
    assert proc.returncode == 0, proc.stderr
    return root


def _publish(source: Path, remote: Path) -> None:
    git("init", "--quiet", "--bare", "--initial-branch=master", str(remote), cwd=source.parent)
    git("init", "--quiet", "--initial-branch=master", cwd=source)
    git("add", "-A", cwd=source)
    git("commit", "--quiet", "-m", "first release", cwd=source)
    git("push", "--quiet", str(remote), "master", cwd=source)


def release(root: Path, name: str, number: int, base_image: str, *, broken: bool = False) -> str:
    """Commit release ``number`` of ``services/<name>`` (broken: it listens on 81, not 80); returns its sha."""
    project = root / "services" / name
    extra = "ENV PORT=81\n" if broken else ""
    (project / "Dockerfile").write_text(DOCKERFILE.format(base=base_image, name=name, release=number, extra=extra))
    git("commit", "--quiet", "-am", f"release {number}{' (broken)' if broken else ''}", cwd=project)
    return git("rev-parse", "HEAD", cwd=project)


def build(cluster: NetnsCluster, root: Path, *names: str) -> None:
    selection = ("--include-only", ",".join(f"services/{n}" for n in names)) if names else ()
    proc = meta(cluster, "build", "--push", *selection, cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def service_images(client, names) -> dict[str, str]:
    """Service name to the image its spec runs now."""
    return {name: client.services.get(name).attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
            for name in names}
