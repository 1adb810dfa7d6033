"""FROM scratch test images for the netns engines: a busybox web service, and HAProxy and nginx as proxies.

Nothing can be pulled here, so each image is the program from this
machine's Debian package: busybox-static as is, and ``haproxy``/``nginx``
with the shared libraries ``ldd`` lists and the dynamic loader, at the paths
``ldd`` gives. The proxies resolve ``tasks.<service>`` themselves, through
the engine's embedded DNS at 127.0.0.11 (HAProxy's ``resolvers`` section,
nginx's ``resolver``), so no libc resolver setup is needed; the image ships
an ``nsswitch.conf`` and a ``passwd`` only for nginx's worker user.
Their configuration comes from a swarm config (tests/netns/services.py).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

HAPROXY = "/usr/sbin/haproxy"
NGINX = "/usr/sbin/nginx"
HAPROXY_CONFIG = "/usr/local/etc/haproxy/haproxy.cfg"
NGINX_CONFIG = "/etc/nginx/nginx.conf"

# One line per request: which task answered, on which node, of which release.
SERVE = """#!/bin/busybox sh
/bin/busybox mkdir -p /www
echo "${TASK_NAME:-$(/bin/busybox hostname)} ${NODE_NAME:-unknown} ${RELEASE:-1}" > /www/index.html
/bin/busybox httpd -f -p "${PORT:-80}" -h /www &
trap 'kill $!; exit 0' TERM INT
wait
"""

HTTPD_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
COPY serve.sh /serve.sh
HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD ["/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
ENTRYPOINT ["/bin/busybox", "sh", "/serve.sh"]
"""


@dataclass(frozen=True)
class NetnsImages:
    """Image references in a cluster's registry."""

    httpd: str
    haproxy: str
    nginx: str | None  # None when nginx is not installed


def shared_libraries(binary: str) -> list[str]:
    """The files ``ldd`` says ``binary`` loads, the dynamic loader included."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True, timeout=30).stdout
    found = []
    for line in out.splitlines():
        match = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)", line)
        if match:
            found.append(match.group(1))
    return found


def copy_with_libraries(binary: str, rootfs: Path) -> None:
    for path in [binary, *shared_libraries(binary)]:
        target = rootfs / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)  # follows symlinks: the image gets the real file under the name ldd uses


def httpd_context(folder: Path, busybox: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copy2(busybox, folder / "busybox")
    (folder / "serve.sh").write_text(SERVE)
    (folder / "Dockerfile").write_text(HTTPD_DOCKERFILE)
    return folder


def haproxy_context(folder: Path) -> Path:
    rootfs = folder / "rootfs"
    copy_with_libraries(HAPROXY, rootfs)
    (rootfs / "tmp").mkdir()
    (folder / "Dockerfile").write_text(
        "FROM scratch\nCOPY rootfs/ /\n"
        f'ENTRYPOINT ["{HAPROXY}", "-db", "-f", "{HAPROXY_CONFIG}"]\n')
    return folder


def nginx_context(folder: Path) -> Path:
    rootfs = folder / "rootfs"
    copy_with_libraries(NGINX, rootfs)
    etc = rootfs / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "passwd").write_text("root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/:/nonexistent\n")
    (etc / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (etc / "nsswitch.conf").write_text("passwd: files\ngroup: files\nhosts: files dns\n")
    (rootfs / "tmp").mkdir()
    (rootfs / "tmp").chmod(0o1777)
    (folder / "Dockerfile").write_text(
        "FROM scratch\nCOPY rootfs/ /\n"
        f'ENTRYPOINT ["{NGINX}", "-e", "stderr", "-c", "{NGINX_CONFIG}", "-g", "daemon off;"]\n')
    return folder


def build_and_push(client, context: Path, reference: str) -> str:
    """``docker build`` ``context`` as ``reference`` (registry/name:tag) and push it; returns the reference."""
    import docker

    client.images.build(path=str(context), tag=reference, rm=True, forcerm=True)
    repository, tag = reference.rsplit(":", 1)
    for line in client.api.push(repository, tag=tag, stream=True, decode=True):
        if "error" in line:
            raise docker.errors.APIError(f"push {reference}: {line['error']}")
    return reference


def push_test_images(client, registry: str, busybox: Path, folder: Path) -> NetnsImages:
    """Build the three images in ``folder`` through ``client``'s engine and push them to ``registry``."""
    httpd = build_and_push(client, httpd_context(folder / "httpd", busybox), f"{registry}/netns/httpd:1")
    haproxy = build_and_push(client, haproxy_context(folder / "haproxy"), f"{registry}/netns/haproxy:1")
    nginx = None
    if shutil.which("nginx") or Path(NGINX).exists():
        nginx = build_and_push(client, nginx_context(folder / "nginx"), f"{registry}/netns/nginx:1")
    return NetnsImages(httpd=httpd, haproxy=haproxy, nginx=nginx)
