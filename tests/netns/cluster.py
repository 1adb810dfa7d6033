"""Swarms of real engines in network namespaces: one node (``netns_engine``) or three (``netns_swarm``).

``running_cluster(count)`` wires ``count`` namespaces to a switch
namespace (tests/netns/namespaces.py), starts a dockerd in each
(tests/netns/dockerd.py) and a docker-registry in the switch namespace, on
an address every node reaches and every engine lists as an insecure
registry: images are built on node1, pushed there, and pulled by whichever
node runs a task, as on a real cluster. Node1 runs ``docker swarm init``;
the others join as workers, so the control plane stays on the engine the
tests (and ``meta``) talk to, and losing any other node is a worker lost
during a rollout: Swarm marks it down and reschedules its tasks. (Three
managers would survive losing node1 too, but a raft quorum of engines
sharing two busy cores adds elections and slow commits to every test.)

Without IPVS in the kernel there is no routing mesh and no VIP: services
use ``endpoint_mode=dnsrr`` and host-mode published ports, and a proxy
reaches the tasks as ``tasks.<service>`` on an overlay network.

Everything is torn down on the way out, even when the block raised: the
swarm left, the engines and the registry stopped by pid, their mounts
unmounted, the temp dir and the namespaces (with their veths) deleted; a
leftover raises.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.images.engine import mounts_under, static_busybox, stop_process, unmount_under
from tests.netns.dockerd import Dockerd, start_registry
from tests.netns.namespaces import Namespace, Wiring, wired_namespaces

REGISTRY_PORT = 5000
SWARM_PORT = 2377
ADDRESS_POOL = "10.232.0.0/16"  # overlay subnets, apart from the 10.231.x.0/24 the nodes sit on
# Workers send a heartbeat every 2s (5s by default) and the manager marks a node down after about three
# missed ones: a lost node shows in ~6s instead of ~15s, with room for an engine stalled by a busy machine.
HEARTBEAT = 2 * 10**9


@dataclass(frozen=True)
class NetnsCluster:
    nodes: tuple[Dockerd, ...]  # nodes[0] is the manager
    wiring: Wiring
    registry: str  # host:port every node pulls from; pushed to through node1's engine
    busybox: Path  # a static busybox to copy into FROM scratch images

    @property
    def manager(self) -> Dockerd:
        return self.nodes[0]

    @property
    def host(self) -> str:
        """DOCKER_HOST of the manager, the engine the tests and ``meta`` talk to."""
        return self.manager.host

    @property
    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}

    @property
    def switch(self) -> Namespace:
        """Where a client outside every node sits: it reaches each node's address, as a browser would."""
        return self.wiring.switch

    def node(self, name: str) -> Dockerd:
        return next(node for node in self.nodes if node.node.name == name)

    def client(self, node: Dockerd | None = None, *, timeout: float = 120):
        import docker

        return docker.DockerClient(base_url=(node or self.manager).host, timeout=timeout)


def node_states(cluster: NetnsCluster) -> dict[str, str]:
    """Node hostname to the state the manager sees it in (ready, down, unknown...)."""
    client = cluster.client(timeout=30)
    try:
        return {n.attrs["Description"]["Hostname"]: n.attrs["Status"]["State"] for n in client.nodes.list()}
    finally:
        client.close()


def wait_node_state(cluster: NetnsCluster, name: str, state: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the manager may be busy re-electing itself after a restart
            seen = node_states(cluster)
            if seen.get(name) == state:
                return
        time.sleep(0.5)
    raise AssertionError(f"{name} is not {state} after {seconds:g}s; the manager sees {seen}")


@contextlib.contextmanager
def node_stopped(cluster: NetnsCluster, name: str, *, seconds: float = 120) -> Iterator[Dockerd]:
    """Stop ``name``'s engine until the block ends (the manager has seen it down), then start it again.

    Leaving the block, even by an exception, restarts the engine and waits
    until the manager sees the node ready, so the session's swarm stays whole.
    """
    node = cluster.node(name)
    node.stop()
    try:
        if node is not cluster.manager:
            wait_node_state(cluster, name, "down", seconds)
        yield node
    finally:
        node.start(seconds)
        if node is cluster.manager:
            _wait_swarm_ready(cluster, seconds)
        else:
            wait_node_state(cluster, name, "ready", seconds)


def _wait_swarm_ready(cluster: NetnsCluster, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            seen = node_states(cluster)
            if len(seen) == len(cluster.nodes) and set(seen.values()) == {"ready"}:
                return
        time.sleep(0.5)
    raise AssertionError(f"the swarm is not ready after {seconds:g}s; the manager sees {seen}")


@contextlib.contextmanager
def running_cluster(count: int, *, subnet: str, seconds: float = 180) -> Iterator[NetnsCluster]:
    base = Path(tempfile.mkdtemp(prefix="mtnet-", dir="/tmp"))  # short: unix socket paths have a limit
    nodes: list[Dockerd] = []
    registry = None
    try:
        with wired_namespaces(count, subnet=subnet) as wiring:
            try:
                address = f"{wiring.gateway}:{REGISTRY_PORT}"
                registry = start_registry(wiring.switch, address, base / "registry")
                nodes = [Dockerd(host, base / host.namespace.name.rsplit("-", 1)[1], insecure_registries=[address])
                         for host in wiring.hosts]
                with ThreadPoolExecutor(len(nodes)) as pool:
                    list(pool.map(lambda node: node.start(seconds), nodes))
                cluster = NetnsCluster(nodes=tuple(nodes), wiring=wiring, registry=address, busybox=static_busybox())
                _form_swarm(cluster)
                _wait_swarm_ready(cluster, seconds)
                yield cluster
            finally:
                _leave_swarm(nodes)
                with ThreadPoolExecutor(max(len(nodes), 1)) as pool:
                    list(pool.map(lambda node: node.stop(), nodes))
                if registry is not None:
                    stop_process(registry)
                unmount_under(base)
    finally:
        unmount_under(base)
        left = mounts_under(base)
        shutil.rmtree(base, ignore_errors=True)
        if left or base.exists():
            raise RuntimeError(f"cluster not cleaned up: mounts {left}, {base} exists: {base.exists()}")


def _form_swarm(cluster: NetnsCluster) -> None:
    manager = cluster.client()
    try:
        address = cluster.manager.node.address
        manager.swarm.init(advertise_addr=address, listen_addr=f"{address}:{SWARM_PORT}",
                           default_addr_pool=[ADDRESS_POOL], subnet_size=24, dispatcher_heartbeat_period=HEARTBEAT)
        token = manager.swarm.attrs["JoinTokens"]["Worker"]
    finally:
        manager.close()
    for node in cluster.nodes[1:]:
        client = cluster.client(node)
        try:
            client.swarm.join(remote_addrs=[f"{address}:{SWARM_PORT}"], join_token=token,
                              listen_addr=f"{node.node.address}:{SWARM_PORT}", advertise_addr=node.node.address)
        finally:
            client.close()


def _leave_swarm(nodes: list[Dockerd]) -> None:
    """Workers first, then the manager; an engine that is not running (or not in a swarm) is passed over."""
    import docker

    for node in reversed(nodes):
        if not node.running:
            continue
        client = docker.DockerClient(base_url=node.host, timeout=60)
        with contextlib.suppress(Exception):
            client.swarm.leave(force=True)
        client.close()
