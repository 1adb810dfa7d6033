"""`meta broker probe`, and a rejected message's path through its retries, on the session's real RabbitMQ."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.broker.env import Broker
from tests.conftest import run_meta

WORK_QUEUES = ["billing.order.created", "notifications.order.created", "shipping.order.created",
               "orders.payment.settled", "shipping.payment.settled", "gateway.shipment.dispatched",
               "notifications.shipment.dispatched", "orders.shipment.dispatched"]


def meta(broker: Broker, root: Path, *args: str):
    return run_meta("broker", *args, cwd=root, env=broker.env)


def test_probe_reaches_every_consumer_and_touches_none_of_their_queues(broker: Broker, broker_workspace: Path):
    ws = broker_workspace
    assert meta(broker, ws, "apply", "staging").returncode == 0
    assert broker.publish("events", "order.created", '{"orderId": "ord-7"}')  # one real message already waiting
    before = broker.ready(WORK_QUEUES)

    proc = meta(broker, ws, "probe", "staging", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    probes = {p["message"]: p for p in json.loads(proc.stdout)["probes"]}
    assert set(probes) == {"order.created", "payment.settled (paymentSettled)", "shipment.dispatched"}
    assert probes["order.created"]["producer"] == "services/orders"
    assert probes["order.created"]["reached"] == ["services/billing", "services/notifications", "services/shipping"]
    assert probes["payment.settled (paymentSettled)"]["reached"] == ["services/orders", "services/shipping"]
    assert all(p["ok"] and not p["missed"] for p in probes.values())

    assert broker.ready(WORK_QUEUES) == before  # the consumers' own queues: untouched
    assert broker.get("billing.order.created")[0]["payload"] == '{"orderId": "ord-7"}'
    assert not [q for q in broker.names("queues") if q.startswith("meta-probe.")]  # gone with the probe

    text = meta(broker, ws, "probe", "staging", "order.created")
    assert text.returncode == 0
    assert text.stdout.strip() == ("✓ order.created from services/orders (key 'order.created'): reached "
                                   "services/billing, services/notifications, services/shipping")
    assert "probe staging: 1 of 1 examples reached every consumer" in text.stderr


def test_probe_names_the_consumer_it_cannot_reach(broker: Broker, broker_workspace: Path):
    ws = broker_workspace
    assert meta(broker, ws, "apply", "staging").returncode == 0
    broker.api("bindings/{vhost}/e/events/q/shipping.order.created/order.created", "DELETE")
    broker.api("bindings/{vhost}/e/events/q/notifications.order.created/order.created", "DELETE")
    broker.api("bindings/{vhost}/e/events/q/notifications.order.created", "POST", {"routing_key": "order.placed"})

    proc = meta(broker, ws, "probe", "staging", "order.created", "--timeout", "0.5")
    assert proc.returncode == 1
    assert "✓ order.created from services/orders (key 'order.created'): reached services/billing" in proc.stdout
    assert ("✗ order.created from services/orders (key 'order.created') -> services/shipping: its queue "
            "'shipping.order.created' is not bound to 'events'") in proc.stdout
    assert ("-> services/notifications: did not arrive within 0.5 s: 'notifications.order.created' is bound with "
            "'order.placed', services/orders publishes with 'order.created'") in proc.stdout

    proc = meta(broker, ws, "probe", "staging", "invoice.sent")
    assert proc.returncode == 2 and "no message 'invoice.sent'" in proc.stderr and "order.created" in proc.stderr


def test_probe_does_not_publish_when_a_binding_would_catch_it(broker: Broker, broker_workspace: Path):
    ws = broker_workspace
    assert meta(broker, ws, "apply", "staging").returncode == 0
    broker.api("queues/{vhost}/audit.everything", "PUT", {"durable": True})
    broker.api("bindings/{vhost}/e/events/q/audit.everything", "POST", {"routing_key": "#"})

    proc = meta(broker, ws, "probe", "staging", "shipment.dispatched")
    assert proc.returncode == 1
    assert "not published: 'audit.everything''s binding '#' on 'events' would receive the probe too" in proc.stdout
    assert broker.ready(["audit.everything"]) == {"audit.everything": 0}


def test_ctrl_c_during_a_probe_leaves_no_probe_queue(broker: Broker, broker_workspace: Path):
    ws = broker_workspace
    assert meta(broker, ws, "apply", "staging").returncode == 0
    broker.api("bindings/{vhost}/e/events/q/gateway.shipment.dispatched/shipment.dispatched", "DELETE")
    broker.api("bindings/{vhost}/e/events/q/gateway.shipment.dispatched", "POST", {"routing_key": "nothing.here"})
    probe = subprocess.Popen([sys.executable, "-m", "metarepo", "broker", "probe", "staging", "shipment.dispatched",
                              "--timeout", "120"], cwd=ws, env={**__import__("os").environ, **broker.env},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not [q for q in broker.names("queues") if q.startswith("meta-probe.")]:  # it waits for gateway's
            assert probe.poll() is None and time.monotonic() < deadline, probe.communicate()
            time.sleep(0.2)
        probe.send_signal(signal.SIGINT)
        out, err = probe.communicate(timeout=30)
    finally:
        probe.kill()
    assert probe.returncode == 130, out + err
    assert "Traceback" not in err
    assert not [q for q in broker.names("queues") if q.startswith("meta-probe.")]


def test_a_rejected_message_goes_through_its_retries_to_the_error_queue(broker: Broker, broker_workspace: Path):
    ws = broker_workspace
    assert meta(broker, ws, "apply", "staging").returncode == 0  # 3 attempts, 300 ms apart (tests/broker/env.py)
    assert broker.publish("events", "payment.settled", "settle ord-9", message_id="m-9")

    path = []
    for queue in ("orders.payment.settled", "orders.payment.settled.attempt-2", "orders.payment.settled.attempt-3"):
        got = _wait_for(broker, queue, "reject_requeue_false")  # the consumer fails it, for real
        assert got["payload"] == "settle ord-9" and got["properties"]["message_id"] == "m-9"
        path.append(queue)
    assert path[-1] == "orders.payment.settled.attempt-3"
    failed = _wait_for(broker, "orders.errors", "ack_requeue_false")
    deaths = {(d["queue"], d["reason"]): d["count"] for d in failed["properties"]["headers"]["x-death"]}
    assert deaths == {("orders.payment.settled", "rejected"): 1, ("orders.retry-1", "expired"): 1,
                      ("orders.payment.settled.attempt-2", "rejected"): 1, ("orders.retry-2", "expired"): 1,
                      ("orders.payment.settled.attempt-3", "rejected"): 1}
    assert failed["properties"]["headers"]["x-first-death-queue"] == "orders.payment.settled"
    assert broker.ready(["orders.payment.settled", "orders.retry-1", "orders.errors",
                         "shipping.payment.settled"]) == {"orders.payment.settled": 0, "orders.retry-1": 0,
                                                          "orders.errors": 0, "shipping.payment.settled": 1}


def test_a_consumer_that_keeps_dying_holding_a_message_moves_it_on(broker: Broker, broker_workspace: Path):
    ws = broker_workspace
    assert meta(broker, ws, "apply", "staging").returncode == 0
    assert broker.publish("events", "shipment.dispatched", "poison")
    for _ in range(4):  # returned to the queue 3 times: the quorum queue's delivery limit (the attempts)
        assert _wait_for(broker, "gateway.shipment.dispatched", "reject_requeue_true")["payload"] == "poison"
    moved = _wait_for(broker, "gateway.shipment.dispatched.attempt-2", "ack_requeue_false")
    assert [(d["queue"], d["reason"]) for d in moved["properties"]["headers"]["x-death"]][-1] == \
        ("gateway.shipment.dispatched", "delivery_limit")


def _wait_for(broker: Broker, queue: str, ackmode: str, seconds: float = 15) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        got = broker.get(queue, ackmode, count=1)
        if got:
            return got[0]
        assert time.monotonic() < deadline, f"nothing arrived in {queue}"
        time.sleep(0.1)
