"""A real Docker engine, registry and single-node swarm for the image and rollout tests.

The suite starts its own: a private ``dockerd`` (its own data root, exec
root, unix socket and containerd namespace, ``--bridge=none
--iptables=false`` so it can sit beside another engine), Debian's
``docker-registry`` on a free 127.0.0.1 port, and ``docker swarm init`` on
127.0.0.1. Each is stopped by its pid at the end. An engine that
``DOCKER_HOST`` already names is used instead when it answers (the swarm is
then only initialised, and later left, if it was not one already).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.servers.process import free_port, port_open, wait_until
from tests.servers.process import stop as stop_process


@dataclass(frozen=True)
class Engine:
    host: str  # DOCKER_HOST for the engine
    registry: str  # host:port of the registry
    busybox: Path  # a static busybox to copy into FROM scratch images

    @property
    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}


def static_busybox() -> Path | None:
    from make_fleet import static_busybox as find

    found = find()
    return Path(found) if found else None


def missing() -> str | None:
    """Why the real-engine tests cannot run here, or None."""
    if os.environ.get("DOCKER_HOST") and answers(os.environ["DOCKER_HOST"]):
        if shutil.which("docker-registry") is None:
            return "docker-registry is not installed (apt-get install docker-registry)"
    else:
        for tool, package in (("dockerd", "docker.io"), ("docker-registry", "docker-registry")):
            if shutil.which(tool) is None:
                return f"{tool} is not installed (apt-get install {package})"
        if os.geteuid() != 0:
            return "starting a private dockerd needs root"
    if static_busybox() is None:
        return "no static busybox (apt-get install busybox-static)"
    return None


def answers(host: str) -> bool:
    import docker

    try:
        docker.DockerClient(base_url=host, timeout=5).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False


@contextlib.contextmanager
def running_engine() -> Iterator[Engine]:
    import docker

    base = Path(tempfile.mkdtemp(prefix="meta-dk-", dir="/tmp"))  # short: a unix socket path has a limit
    procs: list[subprocess.Popen] = []
    started_swarm = False
    client = None
    try:
        existing = os.environ.get("DOCKER_HOST")
        if existing and answers(existing):
            host = existing
        else:
            host = f"unix://{base}/docker.sock"
            log = base / "dockerd.log"
            procs.append(subprocess.Popen(
                ["dockerd", "--data-root", str(base / "data"), "--exec-root", str(base / "exec"),
                 "--host", host, "--pidfile", str(base / "docker.pid"), "--bridge=none", "--iptables=false",
                 "--containerd-namespace", "metarepo-tests", "--containerd-plugins-namespace",
                 "metarepo-tests-plugins"],
                stdin=subprocess.DEVNULL, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True))
            wait_until(lambda: procs[0].poll() is None and answers(host), 60, "dockerd", log)
        client = docker.DockerClient(base_url=host, timeout=120)

        port = free_port()
        (base / "registry").mkdir()
        config = base / "registry.yml"
        config.write_text(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                          f"    rootdirectory: {base / 'registry'}\n  delete:\n    enabled: true\n"
                          f"http:\n  addr: 127.0.0.1:{port}\n")
        rlog = base / "registry.log"
        procs.append(subprocess.Popen(["docker-registry", "serve", str(config)], stdin=subprocess.DEVNULL,
                                      stdout=rlog.open("w"), stderr=subprocess.STDOUT, start_new_session=True))
        wait_until(lambda: port_open(port), 30, "docker-registry", rlog)

        if client.info().get("Swarm", {}).get("LocalNodeState") != "active":
            client.swarm.init(advertise_addr="127.0.0.1", listen_addr=f"127.0.0.1:{free_port()}")
            started_swarm = True
        yield Engine(host=host, registry=f"127.0.0.1:{port}", busybox=static_busybox())
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                for service in client.services.list(filters={"label": "io.metarepo.project"}):
                    service.remove()
            if started_swarm:
                with contextlib.suppress(Exception):
                    client.swarm.leave(force=True)
            client.close()
        for proc in reversed(procs):
            stop_process(proc)
        unmount_under(base)  # netns and overlay mounts a killed engine may leave behind
        shutil.rmtree(base, ignore_errors=True)


def unmount_under(base: Path) -> None:
    for mount in mounts_under(base):
        subprocess.run(["umount", "-l", mount], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def mounts_under(base: Path) -> list[str]:
    """Mount points under ``base``, deepest first."""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1].encode().decode("unicode_escape") for line in lines if len(line.split()) > 1]
    return sorted((p for p in points if p.startswith(f"{base}/")), key=len, reverse=True)
