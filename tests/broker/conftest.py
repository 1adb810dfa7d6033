from __future__ import annotations

from pathlib import Path

import pytest

from tests.broker.env import Broker, configure, own_vhost


@pytest.fixture
def broker(rabbitmq) -> Broker:
    """A vhost of its own on the session's RabbitMQ, deleted afterwards."""
    with own_vhost(rabbitmq) as made:
        yield made


@pytest.fixture
def broker_workspace(workspace: Path, broker: Broker) -> Path:
    """The example fleet cloned, its staging environment's broker being ``broker``."""
    configure(workspace, broker)
    return workspace
