"""What the network-namespace tests need on this machine, and what to do when something is missing."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.images.engine import static_busybox
from tests.netns.images import HAPROXY
from tests.netns.namespaces import NETNS_DIR

TOOLS = (("dockerd", "docker.io"), ("docker-registry", "docker-registry"), ("ip", "iproute2"),
         ("iptables", "iptables"), ("nsenter", "util-linux"), ("unshare", "util-linux"), ("ldd", "libc-bin"))


def missing() -> str | None:
    """Why engines in network namespaces cannot run here, or None."""
    for tool, package in TOOLS:
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            return f"{tool} is not installed (apt-get install {package})"
    if not os.path.exists(HAPROXY):
        return "haproxy is not installed (apt-get install haproxy)"
    if static_busybox() is None:
        return "no static busybox (apt-get install busybox-static)"
    if os.geteuid() != 0:
        return "network namespaces and a private dockerd need root"
    if not NETNS_DIR.parent.is_dir():
        return f"no {NETNS_DIR.parent} to keep network namespaces in"
    return None


def skip_or_fail(why: str) -> None:
    """Under CI=true a missing prerequisite fails the test; elsewhere it skips it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the network-namespace tests cannot run: {why}")
    pytest.skip(f"no engines in network namespaces: {why}")


def require() -> None:
    why = missing()
    if why:
        skip_or_fail(why)
