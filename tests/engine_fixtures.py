"""The real Docker engine, registry and swarm fixtures, for every test that builds or rolls out (see tests/images/engine.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.images.engine import Engine, missing, running_engine


@pytest.fixture(scope="session")
def engine() -> Engine:
    why = missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the real-engine tests cannot run: {why}")
        pytest.skip(f"no Docker engine for the image tests: {why}")
    with running_engine() as started:
        yield started


@pytest.fixture(scope="session")
def docker_client(engine: Engine):
    import docker

    client = docker.DockerClient(base_url=engine.host, timeout=120)
    yield client
    client.close()


@pytest.fixture
def docker_workspace(workspace: Path, engine: Engine, docker_client) -> Path:
    """The example fleet cloned, its .meta pointing at the test registry; services removed afterwards."""
    from tests.images.conftest import set_registry

    set_registry(workspace, engine.registry)
    yield workspace
    for service in docker_client.services.list(filters={"label": "io.metarepo.project"}):
        service.remove()
    _wait_gone(docker_client)


def _wait_gone(client, seconds: float = 30) -> None:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not client.api.containers(all=True, filters={"label": "com.docker.swarm.service.name"}):
            return
        time.sleep(0.3)


