"""The rollout pre-flight (``release.gates.rollout_gates``): a producer does not start while its consumers'
queues are missing on the environment's broker. Asked directly, against the session's real RabbitMQ;
tests/images/test_broker_gate.py runs one `meta rollout` with it on the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.broker.env import Broker, configure
from tests.conftest import run_meta


def gates_and_plan(root: Path, *projects: str):
    from metarepo.release.gates import rollout_gates
    from metarepo.images.rollout import plan_rollout
    from metarepo.manifest import load_manifest

    manifest = load_manifest(root)
    chosen = [manifest.project(name) for name in projects]
    return rollout_gates(manifest, "staging"), plan_rollout(manifest, "staging", chosen)


def test_a_producer_whose_consumers_queues_are_missing_is_refused(broker: Broker, broker_workspace: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    from metarepo.images.release import RolloutFailed

    for key, value in broker.env.items():
        monkeypatch.setenv(key, value)
    gates, plan = gates_and_plan(broker_workspace, "orders", "gateway")
    assert [g.name for g in gates] == ["broker"]
    with pytest.raises(RolloutFailed) as refused:
        gates[0].before(plan)
    message = str(refused.value)
    assert message.startswith("broker: services/orders would publish to consumers whose queues are missing on "
                              "staging's broker: billing.order.created (services/billing, order.created: no queue)")
    assert "notifications.order.created" in message and "shipping.order.created" in message
    assert "nothing was changed" in message and "meta broker apply staging" in message
    assert "\n" not in message

    assert run_meta("broker", "apply", "staging", cwd=broker_workspace, env=broker.env).returncode == 0
    gates[0].before(plan)  # every consumer's queue is there now
    broker.api("bindings/{vhost}/e/events/q/shipping.order.created/order.created", "DELETE")
    with pytest.raises(RolloutFailed, match=r"shipping\.order\.created \(services/shipping, order\.created: "
                                            r"not bound to 'events'\)"):
        gates[0].before(plan)


def test_a_rollout_of_consumers_only_is_not_held_back(broker: Broker, broker_workspace: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    for key, value in broker.env.items():
        monkeypatch.setenv(key, value)
    gates, plan = gates_and_plan(broker_workspace, "gateway", "notifications")  # they publish nothing
    gates[0].before(plan)


def test_no_broker_no_gate_and_an_unreachable_one_refuses(workspace: Path, monkeypatch: pytest.MonkeyPatch):
    from metarepo.errors import EngineUnavailable

    assert gates_and_plan(workspace, "orders")[0] == ()
    configure(workspace, None)  # a closed port
    monkeypatch.setenv("META_BROKER_USER", "someone")
    monkeypatch.setenv("META_BROKER_PASSWORD", "pw")
    gates, plan = gates_and_plan(workspace, "orders")
    with pytest.raises(EngineUnavailable, match="cannot be reached"):
        gates[0].before(plan)
