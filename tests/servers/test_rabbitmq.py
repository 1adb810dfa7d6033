from __future__ import annotations

from pathlib import Path

from tests.servers.process import group_members, listening


def test_a_message_published_through_the_management_api_can_be_got_back(rabbitmq):
    assert rabbitmq.api("queues/%2F/metatest-orders", "PUT", {"durable": False, "auto_delete": False}).status == 201
    published = rabbitmq.api("exchanges/%2F/amq.default/publish", "POST", {
        "properties": {}, "routing_key": "metatest-orders", "payload": "order 42", "payload_encoding": "string"})
    assert published.json() == {"routed": True}

    got = rabbitmq.api("queues/%2F/metatest-orders/get", "POST", {"count": 1, "ackmode": "ack_requeue_false",
                                                                 "encoding": "auto"})
    assert [message["payload"] for message in got.json()] == ["order 42"]
    assert rabbitmq.api("queues/%2F/metatest-orders", "DELETE").status == 204


def test_rabbitmq_listens_on_its_own_ports_with_its_own_user(rabbitmq):
    overview = rabbitmq.api("overview").json()
    assert overview["node"] == rabbitmq.node
    ports = {entry["protocol"]: entry["port"] for entry in overview["listeners"]}
    assert ports.keys() == {"amqp", "http", "clustering"}  # (3.10 reports the http one's address as "::")
    assert (ports["amqp"], ports["http"]) == (rabbitmq.amqp_port, rabbitmq.management_port)
    assert listening(set(group_members(rabbitmq.process.pid))) == {f"127.0.0.1:{port}" for port in ports.values()}
    assert rabbitmq.api("whoami").json()["name"] == rabbitmq.user
    assert rabbitmq.password not in repr(rabbitmq)
    assert "guest" not in [user["name"] for user in rabbitmq.api("users").json()]


def test_rabbitmq_keeps_its_files_in_its_own_folder(rabbitmq):
    node = rabbitmq.node
    assert (rabbitmq.base / "log" / f"{node}.log").exists() and (rabbitmq.base / "mnesia" / node).is_dir()
    for shared in (Path("/var/lib/rabbitmq"), Path("/var/log/rabbitmq")):
        assert not [p for p in shared.rglob("*") if node in p.name], shared
    assert group_members(rabbitmq.process.pid)  # beam.smp and its helpers, in the group the fixture ends
