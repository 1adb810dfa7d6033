"""A vhost of the session's RabbitMQ for one test, and a workspace whose staging environment uses it.

Every broker test gets a vhost of its own on the one broker the session
runs (``tests/servers/rabbitmq.py``), so tests never see each other's
queues; the vhost is deleted when the test ends, pass or fail.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from tests.servers.web import Reply


@dataclass(frozen=True)
class Broker:
    rabbitmq: Any  # tests.servers.rabbitmq.RabbitMQ
    vhost: str
    env: dict[str, str] = field(repr=False)  # META_BROKER_USER / META_BROKER_PASSWORD for `meta`

    @property
    def password(self) -> str:
        return self.rabbitmq.password

    def api(self, path: str, method: str = "GET", data: Any = None) -> Reply:
        """``api("queues/{vhost}/orders.x")``: ``{vhost}`` is this test's vhost, quoted."""
        return self.rabbitmq.api(path.format(vhost=quote(self.vhost, safe="")), method, data)

    def names(self, kind: str) -> set[str]:
        return {item["name"] for item in self.api(f"{kind}/{{vhost}}").json()
                if item["name"] and not item["name"].startswith("amq.")}

    def definitions(self) -> dict[str, Any]:
        return self.api("definitions/{vhost}").json()

    def publish(self, exchange: str, key: str, payload: str = "{}", **properties: Any) -> bool:
        reply = self.api(f"exchanges/{{vhost}}/{quote(exchange, safe='')}/publish", "POST", {
            "properties": properties, "routing_key": key, "payload": payload, "payload_encoding": "string"})
        return reply.json()["routed"]

    def get(self, queue: str, ackmode: str = "ack_requeue_false", count: int = 10) -> list[dict[str, Any]]:
        reply = self.api(f"queues/{{vhost}}/{quote(queue, safe='')}/get", "POST",
                         {"count": count, "ackmode": ackmode, "encoding": "auto"})
        assert reply.status == 200, reply.text
        return reply.json()

    def ready(self, queues: list[str]) -> dict[str, int]:
        """Each queue's ready messages now (a passive declare over AMQP; the HTTP API's counts lag)."""
        import pika

        credentials = pika.PlainCredentials(self.rabbitmq.user, self.rabbitmq.password)
        parameters = pika.ConnectionParameters("127.0.0.1", self.rabbitmq.amqp_port, self.vhost, credentials)
        connection = pika.BlockingConnection(parameters)
        try:
            out = {}
            for queue in queues:
                out[queue] = connection.channel().queue_declare(queue, passive=True).method.message_count
            return out
        finally:
            connection.close()


@contextlib.contextmanager
def own_vhost(rabbitmq: Any) -> Iterator[Broker]:
    vhost = f"metatest-{secrets.token_hex(4)}"
    assert rabbitmq.api(f"vhosts/{vhost}", "PUT", {}).status in (201, 204)
    assert rabbitmq.api(f"permissions/{vhost}/{rabbitmq.user}", "PUT",
                        {"configure": ".*", "write": ".*", "read": ".*"}).status in (201, 204)
    try:
        yield Broker(rabbitmq, vhost, {"META_BROKER_USER": rabbitmq.user, "META_BROKER_PASSWORD": rabbitmq.password})
    finally:
        rabbitmq.api(f"vhosts/{vhost}", "DELETE")


def configure(root: Path, broker: Broker | None, env: str = "staging", **settings: Any) -> dict[str, Any]:
    """Give ``env`` of the workspace at ``root`` a broker setting pointing at ``broker``'s vhost."""
    data = json.loads((root / ".meta").read_text())
    value = {"kind": "rabbitmq", "url": broker.rabbitmq.url if broker else "http://127.0.0.1:9",
             "vhost": broker.vhost if broker else "/", "exchange": "events",
             "retry": {"attempts": 3, "delay_ms": 300}, **settings}
    data["metarepo"]["environments"][env]["broker"] = value
    (root / ".meta").write_text(json.dumps(data, indent=2) + "\n")
    return value
