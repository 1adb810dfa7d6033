"""Fixtures: engines with real networking in network namespaces, alone or as a three-node swarm.

``netns_engine`` and ``netns_swarm`` (session) yield a ``NetnsCluster``
(tests/netns/cluster.py) of one and three nodes; ``*_images`` push the test
images to its registry; ``*_client`` (per test) is a docker client to the
manager that removes the services, configs and networks the test made.
Under CI=true a missing prerequisite fails with the package to install;
elsewhere it skips with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.netns.cluster import NetnsCluster, running_cluster
from tests.netns.images import NetnsImages, push_test_images
from tests.netns.prerequisites import require
from tests.netns.services import removed_afterwards

ENGINE_SUBNET = "10.231.1"
SWARM_SUBNET = "10.231.2"


@pytest.fixture(scope="session")
def netns_engine() -> NetnsCluster:
    """One engine in its own network namespace, a single-node swarm, a registry beside it."""
    require()
    with running_cluster(1, subnet=ENGINE_SUBNET) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def netns_swarm() -> NetnsCluster:
    """Three engines in three namespaces on one bridge: node1 the manager, node2 and node3 workers."""
    require()
    with running_cluster(3, subnet=SWARM_SUBNET) as cluster:
        yield cluster


def _images(cluster: NetnsCluster, folder: Path) -> NetnsImages:
    client = cluster.client()
    try:
        return push_test_images(client, cluster.registry, cluster.busybox, folder)
    finally:
        client.close()


@pytest.fixture(scope="session")
def netns_engine_images(netns_engine: NetnsCluster, tmp_path_factory: pytest.TempPathFactory) -> NetnsImages:
    return _images(netns_engine, tmp_path_factory.mktemp("netns-engine-images"))


@pytest.fixture(scope="session")
def netns_swarm_images(netns_swarm: NetnsCluster, tmp_path_factory: pytest.TempPathFactory) -> NetnsImages:
    return _images(netns_swarm, tmp_path_factory.mktemp("netns-swarm-images"))


def _client(cluster: NetnsCluster):
    client = cluster.client()
    try:
        with removed_afterwards(client):
            yield client
    finally:
        client.close()


@pytest.fixture
def netns_engine_client(netns_engine: NetnsCluster):
    yield from _client(netns_engine)


@pytest.fixture
def netns_swarm_client(netns_swarm: NetnsCluster):
    yield from _client(netns_swarm)
