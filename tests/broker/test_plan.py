"""`meta broker plan`: the topology from the demo fleet's graph, AsyncAPI amqp bindings, and bad input.

The plan needs no broker: every test here points the setting at a closed port.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.broker.env import configure
from tests.conftest import run_meta

CONSUMERS = {  # (message, consumer) -> work queue, in the demo fleet
    ("order.created", "services/billing"): "billing.order.created",
    ("order.created", "services/notifications"): "notifications.order.created",
    ("order.created", "services/shipping"): "shipping.order.created",
    ("payment.settled (paymentSettled)", "services/orders"): "orders.payment.settled",
    ("payment.settled (paymentSettled)", "services/shipping"): "shipping.payment.settled",
    ("shipment.dispatched", "services/gateway"): "gateway.shipment.dispatched",
    ("shipment.dispatched", "services/notifications"): "notifications.shipment.dispatched",
    ("shipment.dispatched", "services/orders"): "orders.shipment.dispatched",
}


def plan(root: Path, *args: str):
    return run_meta("broker", "plan", "staging", *args, cwd=root)


def edit_yaml(path: Path, change) -> None:
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def bad(root: Path) -> str:
    proc = plan(root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


def test_the_demo_fleets_plan(workspace: Path):
    configure(workspace, None, retry={"attempts": 3, "delay_ms": 5000})
    proc = plan(workspace, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {(r["message"], r["consumer"]): r["queue"] for r in doc["routes"]} == CONSUMERS
    billing = next(r for r in doc["routes"] if r["consumer"] == "services/billing")
    assert billing == {"message": "order.created", "channel": "order.created", "consumer": "services/billing",
                       "exchange": "events", "binding_keys": ["order.created"], "queue": "billing.order.created",
                       "attempt_queues": ["billing.order.created.attempt-2", "billing.order.created.attempt-3"],
                       "error_queue": "billing.errors"}
    queues = {q["name"]: q for q in doc["queues"]}
    quorum = {"x-queue-type": "quorum", "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    assert queues["billing.order.created"]["arguments"] == {
        **quorum, "x-delivery-limit": 3, "x-dead-letter-exchange": "billing.retry-1",
        "x-dead-letter-routing-key": "billing.order.created.attempt-2"}
    assert queues["billing.order.created.attempt-2"]["arguments"]["x-dead-letter-exchange"] == "billing.retry-2"
    assert queues["billing.order.created.attempt-3"]["arguments"] == {
        **quorum, "x-delivery-limit": 3, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "billing.errors"}
    assert queues["billing.retry-1"]["arguments"] == {**quorum, "x-message-ttl": 5000, "x-dead-letter-exchange": ""}
    assert queues["billing.errors"]["arguments"] == {"x-queue-type": "quorum"}
    assert all(q["durable"] and not q["auto_delete"] for q in doc["queues"])
    roles = sorted(q["role"] for q in doc["queues"] if q["consumer"] == "services/notifications")
    assert roles == ["attempt"] * 4 + ["errors"] + ["retry"] * 2 + ["work"] * 2
    exchanges = {e["name"]: e["type"] for e in doc["exchanges"]}
    assert exchanges["events"] == "topic" and exchanges["billing.retry-1"] == "fanout" and len(exchanges) == 11
    assert {"source": "events", "destination": "billing.order.created", "destination_type": "queue",
            "routing_key": "order.created", "arguments": {}} in doc["bindings"]
    assert {(p["message"], p["producer"]) for p in doc["publishers"]} == {
        ("order.created", "services/orders"), ("payment.settled (paymentSettled)", "services/billing"),
        ("shipment.dispatched", "services/shipping")}
    assert doc["broker"]["url"] == "http://127.0.0.1:9"

    text = plan(workspace)
    assert text.returncode == 0
    assert text.stdout.splitlines()[1].split() == ["MESSAGE", "CONSUMER", "EXCHANGE", "BINDING", "QUEUE"]
    assert "services/billing: errors billing.errors; retries billing.retry-1, billing.retry-2" in text.stdout
    assert "plan staging: 11 exchanges, 39 queues, 18 bindings" in text.stderr


def test_one_attempt_sends_failures_straight_to_the_error_queue(workspace: Path):
    configure(workspace, None, retry={"attempts": 1, "delay_ms": 0})
    doc = json.loads(plan(workspace, "--json").stdout)
    queue = next(q for q in doc["queues"] if q["name"] == "billing.order.created")
    assert queue["arguments"]["x-dead-letter-routing-key"] == "billing.errors"
    assert not [q for q in doc["queues"] if q["role"] in ("retry", "attempt")]


def test_amqp_bindings_override_the_exchange_queue_and_keys(workspace: Path):
    configure(workspace, None)

    def billing(doc):
        doc["channels"]["orderCreated"]["bindings"] = {"amqp": {
            "is": "routingKey", "exchange": {"name": "shop", "type": "topic"},
            "queue": {"name": "billing-intake", "durable": True}}}
        doc["operations"]["onOrderCreated"]["bindings"] = {"amqp": {"cc": ["order.*"]}}

    edit_yaml(workspace / "services/billing/asyncapi.yaml", billing)
    doc = json.loads(plan(workspace, "--json").stdout)
    route = next(r for r in doc["routes"] if r["consumer"] == "services/billing")
    assert (route["exchange"], route["queue"], route["binding_keys"]) == ("shop", "billing-intake", ["order.*"])
    others = {r["exchange"] for r in doc["routes"] if r["message"] == "order.created"}
    assert others == {"shop"}  # one message travels through one exchange, for every party
    assert next(p for p in doc["publishers"] if p["message"] == "order.created")["exchange"] == "shop"
    assert route["attempt_queues"][0] == "billing-intake.attempt-2"


def test_two_consumers_naming_one_queue_for_different_messages_is_refused(workspace: Path):
    configure(workspace, None)
    edit_yaml(workspace / "services/billing/asyncapi.yaml", lambda d: d["channels"]["orderCreated"].update(
        bindings={"amqp": {"is": "queue", "queue": {"name": "shared"}}}))
    edit_yaml(workspace / "services/shipping/asyncapi.yaml", lambda d: d["channels"]["payment.settled"].update(
        bindings={"amqp": {"is": "queue", "queue": {"name": "shared"}}}))
    line = bad(workspace)
    assert "queue 'shared'" in line and "services/billing" in line and "services/shipping" in line
    assert "order.created" in line and "payment.settled" in line


def test_parties_naming_different_exchanges_for_one_message_are_refused(workspace: Path):
    configure(workspace, None)
    edit_yaml(workspace / "services/billing/asyncapi.yaml", lambda d: d["channels"]["orderCreated"].update(
        bindings={"amqp": {"exchange": {"name": "shop"}}}))
    edit_yaml(workspace / "services/shipping/asyncapi.yaml", lambda d: d["channels"]["order.created"].update(
        bindings={"amqp": {"exchange": {"name": "warehouse"}}}))
    line = bad(workspace)
    assert "'shop'" in line and "'warehouse'" in line and "services/billing" in line and "services/shipping" in line


@pytest.mark.parametrize("exchange, cc, expected", [
    ({"name": "fan", "type": "fanout"}, None, "fanout"),
    ({"name": "dx", "type": "direct"}, ["order.*"], "direct and reads no wildcard"),
    ({"name": "tx", "type": "topic"}, ["payment.*"], "does not route what services/orders publishes"),
])
def test_an_exchange_that_cannot_route_the_keys_is_refused(workspace: Path, exchange, cc, expected):
    configure(workspace, None)

    def billing(doc):
        doc["channels"]["orderCreated"]["bindings"] = {"amqp": {"exchange": exchange}}
        if cc:
            doc["operations"]["onOrderCreated"]["bindings"] = {"amqp": {"cc": cc}}

    edit_yaml(workspace / "services/billing/asyncapi.yaml", billing)
    line = bad(workspace)
    assert expected in line and "services/billing" in line and "order.created" in line


def test_a_binding_that_would_also_catch_another_message_is_refused(workspace: Path):
    configure(workspace, None)
    edit_yaml(workspace / "services/billing/asyncapi.yaml", lambda d: d["operations"]["onOrderCreated"].update(
        bindings={"amqp": {"cc": ["#"]}}))
    line = bad(workspace)
    assert "would also receive" in line and "services/billing" in line and "services/" in line.split("receive")[1]


@pytest.mark.parametrize("settings, expected", [
    ({"exchange": "amq.events"}, "starts with 'amq.'"),
    ({"exchange": "x" * 256}, "256 bytes long"),
])
def test_names_rabbitmq_refuses_are_refused_before_any_call(workspace: Path, settings, expected):
    configure(workspace, None, **settings)
    line = bad(workspace)
    assert expected in line and "broker.exchange" in line


def test_a_queue_name_past_255_bytes_from_a_binding_is_refused(workspace: Path):
    configure(workspace, None)
    edit_yaml(workspace / "services/billing/asyncapi.yaml", lambda d: d["channels"]["orderCreated"].update(
        bindings={"amqp": {"queue": {"name": "é" * 128}}}))  # 256 bytes in UTF-8
    line = bad(workspace)
    assert "256 bytes long" in line and "services/billing" in line


@pytest.mark.parametrize("settings, key, expected", [
    ({"url": "http://admin:hunter2secret@127.0.0.1:15672"}, "broker.url", "must not carry a user or password"),
    ({"url": "amqp://127.0.0.1:5672"}, "broker.url", "http:// or https://"),
    ({"kind": "kafka"}, "broker.kind", "unknown kind"),
    ({"retry": {"attempts": 0}}, "broker.retry.attempts", "from 1 to 20"),
    ({"retry": {"attempts": 3, "delay": 5}}, "broker.retry.delay", "unknown key"),
    ({"vhost": ""}, "broker.vhost", "non-empty string"),
])
def test_a_bad_broker_setting_is_one_line_naming_the_key(workspace: Path, settings, key, expected):
    configure(workspace, None, **settings)
    line = bad(workspace)
    assert f"metarepo.environments.staging.{key}" in line and expected in line
    assert "hunter2secret" not in line


def test_an_environment_without_a_broker_is_told_so(workspace: Path):
    proc = plan(workspace)
    assert proc.returncode == 2 and "environment 'staging' has no broker" in proc.stderr


def test_the_example_manifests_broker_setting_is_valid():
    from metarepo.broker.settings import BrokerSettings, Retry, broker_settings

    example = json.loads((Path(__file__).resolve().parents[2] / ".meta.example").read_text())["metarepo"]
    assert broker_settings("staging", example["environments"]["staging"]) == BrokerSettings(
        "staging", "http://rabbit.staging.acme.io:15672", "/", "events", Retry(3, 10000))
    assert broker_settings("production", example["environments"]["production"]) is None


def test_the_plan_is_a_pure_function_of_the_graph(workspace: Path):
    """What `meta doctor` asks: every consumed message's producers, each consumer's queues, with no broker."""
    from metarepo.broker.plan import plan_topology
    from metarepo.contracts.fleet import load_fleet
    from metarepo.contracts.graph import build_graph, flows
    from metarepo.manifest import load_manifest

    (workspace / "services/gateway/contracts.yaml").write_text(
        "consumes:\n  invoice.sent:\n    schema: {type: object}\n")
    contracts, _ = load_fleet(load_manifest(workspace).projects)
    topology = plan_topology(flows(build_graph(contracts)))
    assert [(m.label, c) for m, c in topology.unpublished] == [("invoice.sent", "services/gateway")]
    assert [r.queue for r in topology.routes_of("services/orders")] == ["orders.payment.settled",
                                                                        "orders.shipment.dispatched"]
    assert not topology.routes_of("services/gateway")
    assert {q.name for q in topology.queues_of("services/billing")} >= {"billing.order.created", "billing.errors"}
