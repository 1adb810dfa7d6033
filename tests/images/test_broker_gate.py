"""`meta rollout` on the real engine refuses a producer whose consumers' queues are missing on the broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.broker.env import configure, own_vhost
from tests.conftest import git
from tests.images.conftest import meta_docker, services

pytestmark = pytest.mark.docker


def test_a_rollout_is_refused_before_anything_moves_when_queues_are_missing(docker_workspace: Path, engine,
                                                                           docker_client, rabbitmq):
    ws = docker_workspace
    with own_vhost(rabbitmq) as broker:
        configure(ws, broker)
        git("commit", "-qam", "staging has a broker", cwd=ws)
        assert meta_docker(engine, "build", "--push", "--include-only", "orders", cwd=ws).returncode == 0

        proc = meta_docker(engine, "rollout", "staging", "--include-only", "orders", cwd=ws, env=broker.env)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        line = proc.stderr.strip().splitlines()[-1]
        assert line.startswith("meta: broker: services/orders would publish to consumers whose queues are missing")
        assert "billing.order.created" in line and "run `meta broker apply staging` first" in line
        assert services(docker_client) == {} and not (ws / "environments").exists()

        assert meta_docker(engine, "broker", "apply", "staging", cwd=ws, env=broker.env).returncode == 0
        proc = meta_docker(engine, "rollout", "staging", "--include-only", "orders", cwd=ws, env=broker.env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert set(services(docker_client)) == {"orders"}
