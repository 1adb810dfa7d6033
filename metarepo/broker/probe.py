"""``probe_broker``: publish a valid example of each message through the real exchange and see it arrive.

For each producer of each message probed: an example of its schema
(``payloads``), validated against that schema, is published through the
message's exchange, and must reach every consumer. Each consumer's own
queue stays untouched: the probe reads the bindings that queue really has
on the broker, and binds a temporary queue of its own (exclusive to the
probe's AMQP connection, so the broker removes it when the connection
ends, Ctrl-C or not) with the same keys under a prefix of this run's,
``meta-probe.<run>.<key>``; the example is published with the producer's
key under the same prefix. A topic or direct exchange routes the prefixed
key to the prefixed binding exactly when it routes the key to the binding,
and no consumer's binding matches the prefixed key: the probe checks that
no binding on the exchange would (a ``#`` would) before it publishes, and
does not publish when one does.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from metarepo.errors import EngineUnavailable, UsageError, printable

from metarepo.broker import routing
from metarepo.broker.amqp import connected
from metarepo.broker.client import Management
from metarepo.broker.live import PROBE_PREFIX, LiveBinding, LiveState, read_live
from metarepo.broker.payloads import example_payload
from metarepo.broker.topology import MAX_NAME_BYTES, Publisher, Route, Topology
from metarepo.contracts.model import Message


@dataclass(frozen=True)
class ProbeOutcome:
    """One producer's example of one message: which consumers it reached, and why the others it did not."""

    message: Message
    producer: str
    routing_key: str
    reached: tuple[str, ...] = ()
    missed: tuple[tuple[str, str], ...] = ()  # (consumer, why)
    error: str = ""  # why nothing was published

    @property
    def ok(self) -> bool:
        return not self.error and not self.missed

    def as_json(self) -> dict[str, Any]:
        return {"message": self.message.label, "channel": self.message.channel, "producer": self.producer,
                "routing_key": self.routing_key, "reached": list(self.reached),
                "missed": [{"consumer": c, "why": why} for c, why in self.missed], "error": self.error or None,
                "ok": self.ok}


def select_messages(topology: Topology, names: Sequence[str]) -> list[Message]:
    """The planned messages named (by label, channel or message id), all of them when none is."""
    planned = list(dict.fromkeys(r.message for r in topology.routes))
    if not names:
        return planned
    chosen = []
    for name in names:
        found = [m for m in planned if name in (m.label, m.channel, m.name)]
        if not found:
            known = ", ".join(m.label for m in planned) or "none"
            raise UsageError(f"no message {printable(name)!r} with a producer and a consumer to probe "
                             f"(known: {known})")
        chosen += [m for m in found if m not in chosen]
    return chosen


def probe_broker(client: Management, topology: Topology, contracts: Mapping[str, Any],
                 messages: Sequence[Message], *, timeout: float = 5.0) -> tuple[ProbeOutcome, ...]:
    overview = client.overview()
    live = read_live(client)
    exchanges = {p.exchange for p in topology.publishers if p.message in messages}
    live = replace(live, bindings=tuple(b for e in sorted(exchanges) if e in live.exchanges
                                        for b in _bindings_from(client, e)))
    run = f"{PROBE_PREFIX}{secrets.token_hex(4)}."
    outcomes: list[ProbeOutcome] = []
    import pika

    with connected(client, overview) as connection:
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for message in messages:
                routes = topology.consumers_of(message)
                for publisher in (p for p in topology.publishers if p.message == message):
                    outcomes.append(_probe_one(channel, live, run, len(outcomes), publisher, routes, contracts,
                                               timeout))
        except pika.exceptions.AMQPError as exc:  # the connection or channel went away mid-probe
            raise EngineUnavailable(f"broker {client.url}: the probe's AMQP channel failed: "
                                    f"{printable(str(exc) or type(exc).__name__)[:200]}") from None
    return tuple(outcomes)


def _probe_one(channel: Any, live: LiveState, run: str, number: int, publisher: Publisher,
               routes: Sequence[Route], contracts: Mapping[str, Any], timeout: float) -> ProbeOutcome:
    import pika

    key = routing.example_key(publisher.keys[0])
    probe_key = f"{run}{key}"
    base = ProbeOutcome(publisher.message, publisher.producer, key)
    schema = contracts[publisher.producer].publishes.get(publisher.message)
    payload = example_payload(schema) if schema is not None else None
    if payload is None:
        return _with(base, error=f"no valid example of {publisher.producer}'s schema could be made")
    if len(probe_key.encode()) > MAX_NAME_BYTES:
        return _with(base, error=f"the probe's key {probe_key!r} would be longer than {MAX_NAME_BYTES} bytes")
    exchange = live.exchanges.get(publisher.exchange)
    if exchange is None:
        return _with(base, error=f"exchange {publisher.exchange!r} is missing (run `meta broker apply`)")
    if exchange.type not in ("topic", "direct"):
        return _with(base, error=f"exchange {publisher.exchange!r} is {exchange.type} on the broker, not "
                                 "topic or direct (see `meta broker check`)")
    catching = [b for b in live.bindings if b.source == publisher.exchange
                and not b.destination.startswith(PROBE_PREFIX) and routing.routes(exchange.type, b.routing_key,
                                                                                 probe_key)]
    if catching:
        b = catching[0]
        return _with(base, error=f"not published: {b.destination!r}'s binding {b.routing_key!r} on "
                                 f"{publisher.exchange!r} would receive the probe too")
    missed: list[tuple[str, str]] = []
    queues: dict[str, str] = {}  # consumer -> its probe queue
    for n, route in enumerate(routes):
        if route.queue not in live.queues:
            missed.append((route.consumer, f"its queue {route.queue!r} is missing"))
            continue
        keys = [b.routing_key for b in live.bindings if b.source == route.exchange and b.destination == route.queue
                and b.destination_type == "queue"]
        if not keys:
            missed.append((route.consumer, f"its queue {route.queue!r} is not bound to {route.exchange!r}"))
            continue
        too_long = [k for k in keys if len(f"{run}{k}".encode()) > MAX_NAME_BYTES]
        if too_long:
            missed.append((route.consumer, f"its binding key {too_long[0]!r} is too long to probe under a prefix"))
            continue
        name = f"{run}{number}.{n}"
        channel.queue_declare(name, exclusive=True, auto_delete=True)
        for bound in keys:
            channel.queue_bind(name, route.exchange, f"{run}{bound}")
        queues[route.consumer] = name
    if not queues:
        return _with(base, missed=missed)
    message_id = f"{run}{number}"
    properties = pika.BasicProperties(content_type=payload.content_type, message_id=message_id,
                                      headers={"x-meta-probe": run.rstrip(".")}, delivery_mode=1)
    try:
        channel.basic_publish(publisher.exchange, probe_key, payload.body, properties, mandatory=True)
    except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
        pass  # routed nowhere (or refused): every probe queue stays empty and says so below
    reached = _arrivals(channel, queues, message_id, timeout)
    for consumer, name in queues.items():
        if consumer not in reached:
            route = next(r for r in routes if r.consumer == consumer)
            bound = ", ".join(repr(b.routing_key) for b in live.bindings if b.destination == route.queue
                              and b.source == route.exchange)
            missed.append((consumer, f"did not arrive within {timeout:g} s: {route.queue!r} is bound with "
                                     f"{bound}, {publisher.producer} publishes with {key!r}"))
    return _with(base, reached=tuple(c for c in queues if c in reached), missed=missed)


def _arrivals(channel: Any, queues: dict[str, str], message_id: str, timeout: float) -> set[str]:
    reached: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        for consumer, name in queues.items():
            if consumer in reached:
                continue
            while True:
                method, properties, _ = channel.basic_get(name, auto_ack=True)
                if method is None:
                    break
                if properties.message_id == message_id:
                    reached.add(consumer)
                    break
        if len(reached) == len(queues) or time.monotonic() >= deadline:
            return reached
        time.sleep(0.1)


def _with(base: ProbeOutcome, **changes: Any) -> ProbeOutcome:
    missed = changes.pop("missed", None)
    if missed is not None:
        changes["missed"] = tuple(sorted(missed))
    return replace(base, **changes)


def _bindings_from(client: Management, exchange: str) -> list[LiveBinding]:
    """Every binding from ``exchange``, those to other connections' exclusive queues too (which a vhost's
    definitions leave out): the probe must know every queue its message could reach."""
    listed = client.call("GET", client.vhost_path("exchanges", exchange) + "/bindings/source") or ()
    return [LiveBinding(b.get("source", ""), b.get("destination", ""), b.get("destination_type", ""),
                        b.get("routing_key", ""), b.get("arguments") or {}) for b in listed]
