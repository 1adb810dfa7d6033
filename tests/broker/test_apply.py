"""`meta broker apply` and `check` against the session's real RabbitMQ, each test in a vhost of its own."""

from __future__ import annotations

import json
from pathlib import Path

from tests.broker.env import Broker
from tests.conftest import run_meta


def meta(broker: Broker, root: Path, *args: str):
    return run_meta("broker", *args, cwd=root, env=broker.env)


def applied(broker: Broker, root: Path, *args: str) -> dict:
    proc = meta(broker, root, "apply", "staging", "--json", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_apply_declares_the_plan_and_applying_twice_changes_nothing(broker: Broker, broker_workspace: Path):
    ws = broker_workspace
    first = applied(broker, ws)
    created = {(c["what"], c["name"]) for c in first["changes"] if c["change"] == "created"}
    assert len(created) == 68 and first["unchanged"] == 0
    assert {"billing.order.created", "billing.order.created.attempt-3", "billing.retry-2", "billing.errors"} <= \
        broker.names("queues")
    queue = broker.api("queues/{vhost}/billing.order.created").json()
    assert queue["type"] == "quorum" and queue["durable"] and queue["arguments"]["x-delivery-limit"] == 3
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in broker.api("bindings/{vhost}").json()}
    assert ("events", "billing.order.created", "order.created") in bindings

    before = broker.definitions()
    second = applied(broker, ws)
    assert second["changes"] == [] and second["unchanged"] == 68
    assert broker.definitions() == before

    proc = meta(broker, ws, "apply", "staging")
    assert proc.returncode == 0 and "apply staging: 68 unchanged" in proc.stderr
    proc = meta(broker, ws, "check", "staging")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "check staging: 68 in step, 0 missing or different, 0 other" in proc.stderr


def test_check_finds_a_deleted_binding_and_apply_puts_it_back(broker: Broker, broker_workspace: Path):
    ws = broker_workspace
    applied(broker, ws)
    assert broker.api("bindings/{vhost}/e/events/q/shipping.order.created/order.created", "DELETE").status == 204

    proc = meta(broker, ws, "check", "staging")
    assert proc.returncode == 1
    assert ("✗ services/shipping: missing binding events -> shipping.order.created ('order.created') "
            "(order.created)") in proc.stdout
    assert "`meta broker apply staging` declares what is missing" in proc.stderr
    doc = json.loads(meta(broker, ws, "check", "staging", "--json").stdout)
    assert not doc["ok"]
    assert [(d["kind"], d["consumer"]) for d in doc["drift"]] == [("missing_binding", "services/shipping")]

    again = applied(broker, ws)
    assert [(c["change"], c["what"]) for c in again["changes"]] == [("created", "binding")]
    assert meta(broker, ws, "check", "staging").returncode == 0


def test_check_reports_a_missing_queue_a_stray_binding_and_unread_messages(broker: Broker, broker_workspace: Path):
    ws = broker_workspace
    applied(broker, ws)
    assert broker.api("queues/{vhost}/gateway.errors", "DELETE").status == 204
    broker.api("queues/{vhost}/legacy.audit", "PUT", {"durable": True})
    broker.api("bindings/{vhost}/e/events/q/legacy.audit", "POST", {"routing_key": "invoice.sent"})
    broker.api("bindings/{vhost}/e/events/q/notifications.order.created", "POST", {"routing_key": "order.*"})
    assert broker.publish("amq.default", "legacy.audit")

    doc = {}
    for _ in range(40):  # the management API's message counts come with its statistics, every few seconds
        doc = json.loads(meta(broker, ws, "check", "staging", "--json").stdout)
        if any(d["kind"] == "unread_queue" for d in doc["drift"]):
            break
    kinds = {(d["kind"], d["name"]) for d in doc["drift"]}
    assert ("missing_queue", "gateway.errors") in kinds
    assert ("unpublished_binding", "events -> legacy.audit ('invoice.sent')") in kinds
    assert ("not_planned", "events -> notifications.order.created ('order.*')") in kinds  # it routes a real one
    assert ("unread_queue", "legacy.audit") in kinds
    assert not doc["ok"]


def test_a_queue_holding_messages_survives_prune_without_force(broker: Broker, broker_workspace: Path):
    ws = broker_workspace
    applied(broker, ws)
    for name in ("old.orders", "old.empty"):
        assert broker.api(f"queues/{{vhost}}/{name}", "PUT", {"durable": True,
                                                              "arguments": {"x-queue-type": "quorum"}}).status == 201
    broker.api("bindings/{vhost}/e/events/q/old.orders", "POST", {"routing_key": "order.created"})
    assert broker.api("exchanges/{vhost}/old.exchange", "PUT", {"type": "topic", "durable": True}).status == 201
    assert broker.publish("events", "order.created", '{"orderId": "ord-1"}')

    proc = meta(broker, ws, "apply", "staging", "--prune")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "- queue old.orders: skipped, kept, 1 ready message; --force deletes it anyway" in proc.stderr
    assert "✓ deleted queue old.empty" in proc.stdout and "✓ deleted exchange old.exchange" in proc.stdout
    assert "✓ deleted binding events -> old.orders ('order.created')" in proc.stdout
    assert "old.orders" in broker.names("queues") and "old.empty" not in broker.names("queues")
    assert broker.ready(["old.orders"]) == {"old.orders": 1}
    assert broker.ready(["billing.order.created"]) == {"billing.order.created": 1}  # planned queues stay as they are

    proc = meta(broker, ws, "apply", "staging", "--force")
    assert proc.returncode == 2 and "--force only goes with --prune" in proc.stderr
    doc = applied(broker, ws, "--prune", "--force")
    assert [(c["change"], c["name"]) for c in doc["changes"]] == [("deleted", "old.orders")]
    assert "old.orders" not in broker.names("queues")


def test_a_queue_declared_with_other_arguments_is_reported_not_deleted(broker: Broker, broker_workspace: Path):
    ws = broker_workspace
    assert broker.api("queues/{vhost}/billing.order.created", "PUT", {
        "durable": True, "arguments": {"x-queue-type": "classic", "x-message-ttl": 60000}}).status == 201
    assert broker.publish("amq.default", "billing.order.created", "kept")

    proc = meta(broker, ws, "apply", "staging", "--prune")
    assert proc.returncode == 1
    line = next(line for line in proc.stderr.splitlines() if "billing.order.created:" in line)
    assert line.startswith("✗ queue billing.order.created: ")
    assert "x-queue-type is 'classic' on the broker, 'quorum' in the plan" in line
    assert "x-message-ttl is 60000 on the broker, unset in the plan" in line
    assert "cannot change a queue's arguments in place" in line and "delete it, and apply again" in line
    assert broker.ready(["billing.order.created"]) == {"billing.order.created": 1}
    assert "billing.order.created.attempt-2" in broker.names("queues")  # the rest was declared
    assert meta(broker, ws, "check", "staging").returncode == 1


def test_declarations_the_broker_refuses_are_reported_as_failed(broker: Broker, broker_workspace: Path):
    assert broker.api("vhost-limits/{vhost}/max-queues", "PUT", {"value": 10}).status == 204
    proc = meta(broker, broker_workspace, "apply", "staging")
    assert proc.returncode == 1
    assert "✗ queue billing.order.created: Adding 39 queue(s) to virtual host" in proc.stderr
    assert "would exceed the limit of 10 queue(s).: not declared" in proc.stderr
    assert "... and 29 more: failed (queues; --json lists them all)" in proc.stdout
    doc = json.loads(meta(broker, broker_workspace, "apply", "staging", "--json").stdout)
    assert not doc["ok"] and {c["change"] for c in doc["changes"] if c["what"] == "queue"} == {"failed"}
