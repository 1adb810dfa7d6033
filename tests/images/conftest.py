"""Fixtures for the image and rollout tests: the real engine, and a fleet that builds against it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, run_meta
from tests.images.engine import Engine


# The fixtures `engine`, `docker_client` and `docker_workspace` live in tests/engine_fixtures.py, for the
# whole suite (release trains use them too).


def set_registry(root: Path, registry: str, *, monitor: float = 1, timeout: float = 60,
                 namespace: str = "demo") -> None:
    """Point the workspace's .meta at the test registry (under ``namespace``, so suites sharing the one
    registry do not see each other's tags), with quick update settings, and commit it."""
    data = json.loads((root / ".meta").read_text())
    ours = data["metarepo"]
    ours["defaults"]["registry"] = f"{registry}/{namespace}"
    ours["environments"]["staging"].update(
        {"replicas": 1, "timeout": timeout, "update": {"parallelism": 1, "delay": 0, "monitor": monitor,
                                                       "order": "start-first"}})
    (root / ".meta").write_text(json.dumps(data, indent=2) + "\n")
    git("commit", "-qam", "test registry", cwd=root)


def commit_change(project: Path, path: str, text: str, message: str) -> str:
    (project / path).write_text(text)
    git("add", "-A", cwd=project)
    git("commit", "-qm", message, cwd=project)
    return git("rev-parse", "HEAD", cwd=project)


UNHEALTHY_APP = """#!/bin/busybox sh
# never marks itself healthy: its HEALTHCHECK fails, and Swarm must not keep it
echo "broken release up"
trap "exit 0" TERM INT
/bin/busybox sleep 2147483647 & wait
"""


def meta_docker(engine: Engine, *args: str, cwd: Path, timeout: float = 300, env: dict | None = None):
    return run_meta(*args, cwd=cwd, env={**engine.env, **(env or {})}, timeout=timeout)


def services(client) -> dict[str, dict]:
    """Service name to (image, replicas) for the services metarepo made."""
    found = {}
    for service in client.services.list(filters={"label": "io.metarepo.project"}):
        spec = service.attrs["Spec"]
        found[spec["Name"]] = {"image": spec["TaskTemplate"]["ContainerSpec"]["Image"],
                               "replicas": spec["Mode"]["Replicated"]["Replicas"],
                               "labels": spec.get("Labels") or {},
                               "update": spec.get("UpdateConfig") or {}}
    return found


def copy_busybox(engine: Engine, folder: Path) -> None:
    shutil.copy2(engine.busybox, folder / "busybox")


def docker_cli(engine: Engine, *args: str) -> str:
    return subprocess.run(["docker", *args], env={**os.environ, **engine.env}, check=True, capture_output=True,
                          text=True).stdout


def make_layered_fleet(tmp_path: Path, registry: str, busybox: Path | None, *, broken_base: bool = False) -> Path:
    """A small fleet with a shared base image: base, then api and worker FROM it, and solo FROM scratch.

    Returns the cloned workspace's root.
    """
    from make_fleet import publish

    remotes = tmp_path / "layered" / "remotes"
    remotes.mkdir(parents=True)
    sources = {
        "base": "FROM scratch\nCOPY busybox /bin/busybox\n" + ("COPY missing-file /x\n" if broken_base else ""),
        "api": f"FROM {registry}/base\nCOPY app.sh /app.sh\nENTRYPOINT [\"/bin/busybox\", \"sh\", \"/app.sh\"]\n",
        "worker": f"ARG REGISTRY={registry}\nFROM ${{REGISTRY}}/base:latest\nCOPY app.sh /app.sh\n",
        "solo": "FROM scratch\nCOPY busybox /bin/busybox\nCOPY app.sh /app.sh\n",
        "docs": None,  # no Dockerfile
    }
    projects = {}
    for name, dockerfile in sources.items():
        src = tmp_path / "layered" / "src" / name
        src.mkdir(parents=True)
        (src / "app.sh").write_text('#!/bin/busybox sh\ntrap "exit 0" TERM\n/bin/busybox sleep 2147483647 & wait\n')
        if dockerfile is not None:
            (src / "Dockerfile").write_text(dockerfile)
            if busybox is not None:
                shutil.copy2(busybox, src / "busybox")
            else:
                (src / "busybox").write_text("not a real busybox\n")
        publish(src, remotes / f"{name}.git")
        projects[f"images/{name}"] = f"file://{remotes}/{name}.git"
    meta = tmp_path / "layered" / "meta"
    meta.mkdir()
    (meta / ".meta").write_text(json.dumps({
        "projects": projects,
        "metarepo": {"defaults": {"registry": registry},
                     "environments": {"staging": {"target": "swarm"}}}}, indent=2) + "\n")
    publish(meta, remotes / "meta.git")
    root = tmp_path / "layered" / "ws"
    proc = run_meta("clone", f"file://{remotes}/meta.git", str(root))
    assert proc.returncode == 0, proc.stderr
    return root
