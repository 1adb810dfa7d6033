"""``plan_topology``: the broker's topology from the contract graph's flows, with no I/O.

For every message that someone publishes and someone reads:

- the exchange it travels through: the environment's ``exchange`` (topic,
  durable), or the one its parties' amqp channel bindings name;
- per producer, the routing keys it publishes with: the channel's address,
  or its operation binding's ``cc``;
- per consumer, one durable quorum queue ``<service>.<channel>`` (its
  amqp ``queue.name`` if it gives one), bound to the exchange with the keys
  that route every producer's message (its own ``cc`` if it gives them).

A failed delivery's path is the broker's to enforce, so a consumer never
counts. With ``retry.attempts`` N, a message is tried at most N times:
each consumer's work queue is its attempt 1; attempt k rejected (or
returned more than N times by consumers that died holding it, quorum's
``x-delivery-limit``) is dead-lettered into the consumer's retry queue k,
which holds it ``delay_ms`` (``x-message-ttl``) and dead-letters it into
attempt queue k+1, ``<work queue>.attempt-<k+1>``; the last attempt's
failures go to the consumer's ``<service>.errors``. Dead-lettering is
at-least-once (quorum queues, RabbitMQ 3.10+), so nothing is lost on the way.
What a consumer must do: read its work queue and each of its attempt
queues, ack what it handled, reject (``requeue=false``) what failed.

Bad input, refused before any call, naming both sides: two parties naming
different exchanges for one message, an exchange type that cannot route
the keys (fanout, headers, a direct exchange with wildcards or
parameters), a consumer binding that does not route a producer's key or
also routes another message's, two queues of one name, and any name
RabbitMQ refuses.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from metarepo.errors import UsageError, printable

from metarepo.broker import routing
from metarepo.broker.bindings import AmqpBinding, party_name, read_binding
from metarepo.broker.settings import BrokerSettings
from metarepo.broker.topology import (EXCHANGE_TYPES, Binding, Exchange, Publisher, Queue, QueueRole, Route,
                                      Topology, check_name)
from metarepo.contracts.graph import Flow, Party
from metarepo.contracts.model import Message

QUORUM = {"x-queue-type": "quorum"}
_SAFE_DEAD_LETTERS = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


def broker_name(project: str, settings: Mapping[str, Any] | None = None) -> str:
    """A consumer's name in its queues' names: its name in the cluster (``images.release.service_name``'s rule:
    the ``service`` setting, else the image's last name, else the folder's)."""
    settings = settings or {}
    name = settings.get("service") or settings.get("image") or project
    return str(name).rsplit("/", 1)[-1]


@dataclass(frozen=True)
class _Exchanged:
    exchange: Exchange
    owner: str  # who made it this: a party, or the environment's setting


def plan_topology(flows: Sequence[Flow], settings: BrokerSettings | None = None,
                  names: Mapping[str, str] | None = None) -> Topology:
    """The topology for ``flows`` (``contracts.graph.flows``) on the broker of ``settings`` (the defaults:
    exchange ``events``, 3 attempts, when None: the queues and bindings any broker would get).

    ``names``: project -> its name in queue names (``broker_name``); a project
    missing from it is named by its folder's last name. Pure: no I/O.
    """
    settings = settings or BrokerSettings(environment="(default)", url="")
    names = dict(names or {})
    default = Exchange(settings.exchange)
    check_name("exchange", default.name, f"metarepo.environments.{settings.environment}.broker.exchange")
    exchanges: dict[str, _Exchanged] = {default.name: _Exchanged(default, "the environment's broker.exchange")}
    reads = Counter((c.service, f.message.channel) for f in flows if f.producers for c in _unique(f.consumers))
    publishers: list[Publisher] = []
    wanted: list[Route] = []  # each consumer's route, its attempt and error queues not named yet
    unpublished, unconsumed, notes = [], [], []
    for flow in flows:
        consumers = _unique(flow.consumers)
        if any(p.reply for p in (*flow.producers, *consumers)):
            notes.append(f"{flow.message.label}: a reply travels to its requester's own reply queue, "
                         "not through an exchange: nothing planned for it")
            continue
        if not consumers:
            unconsumed += [(flow.message, p.service) for p in flow.producers]
            continue
        if not flow.producers:
            unpublished += [(flow.message, c.service) for c in consumers]
            continue
        producers = [(p, read_binding(p)) for p in flow.producers]
        readers = [(c, read_binding(c)) for c in consumers]
        exchange = _exchange(flow.message, [*producers, *readers], settings, exchanges)
        sent = [_publisher(flow.message, p, b, exchange) for p, b in producers]
        publishers += sent
        for party, binding in readers:
            keys = _binding_keys(flow.message, party, binding, exchange, sent)
            several = reads[(party.service, flow.message.channel)] > 1
            queue = binding.queue or _queue_name(names.get(party.service) or broker_name(party.service),
                                                 flow.message, several)
            wanted.append(Route(flow.message, party.service, exchange.name, keys, queue, (), ""))
    _refuse_crossed_keys(wanted, publishers, exchanges)
    routes, queues, bindings, more = _declarations(wanted, settings, names)
    _refuse_same_names(queues, exchanges, more)
    return Topology(settings.vhost, tuple(e.exchange for e in exchanges.values()) + tuple(more), tuple(queues),
                    tuple(bindings), tuple(routes), tuple(publishers), tuple(unpublished), tuple(unconsumed),
                    tuple(notes))


def _unique(parties: Iterable[Party]) -> list[Party]:
    """One party per service (two operations of one service reading one message share its queue)."""
    seen: dict[str, Party] = {}
    for party in sorted(parties, key=lambda p: p.service):
        seen.setdefault(party.service, party)
    return list(seen.values())


def _exchange(message: Message, parties: list[tuple[Party, AmqpBinding]], settings: BrokerSettings,
              exchanges: dict[str, _Exchanged]) -> Exchange:
    named = [(p, b) for p, b in parties if b.exchange]
    for (p1, b1), (p2, b2) in zip(named, named[1:]):
        if b1.exchange != b2.exchange:
            raise UsageError(f"{message.label}: {party_name(p1)} binds it to exchange {b1.exchange!r} and "
                             f"{party_name(p2)} to {b2.exchange!r}; one message travels through one exchange")
    for p, b in parties:
        if b.vhost is not None and b.vhost != settings.vhost:
            raise UsageError(f"{message.label}: {party_name(p)}'s amqp binding names vhost {b.vhost!r}, but "
                             f"environment {settings.environment}'s broker uses {settings.vhost!r}")
    typed = [(p, b) for p, b in parties if b.exchange_type]
    for (p1, b1), (p2, b2) in zip(typed, typed[1:]):
        if b1.exchange_type != b2.exchange_type:
            raise UsageError(f"{message.label}: {party_name(p1)} says its exchange is {b1.exchange_type} and "
                             f"{party_name(p2)} says {b2.exchange_type}")
    name = named[0][1].exchange if named else settings.exchange
    owner = party_name(named[0][0]) if named else "the environment's broker.exchange"
    check_name("exchange", name, f"{message.label}: {owner}")
    known = exchanges.get(name)
    kind = typed[0][1].exchange_type if typed else (known.exchange.type if known else "topic")
    if kind not in EXCHANGE_TYPES:
        who = party_name(typed[0][0])
        raise UsageError(f"{message.label}: {who} says exchange {name!r} is {kind}, which cannot route the "
                         "message's keys to its consumers' queues alone (fanout sends every message to every "
                         "queue, headers routes by headers, the default exchange by queue name): use topic "
                         "or direct")
    flags = [b for _, b in named if b.exchange == name]
    exchange = Exchange(name, kind, flags[0].exchange_durable if flags else True,
                        flags[0].exchange_auto_delete if flags else False)
    if known is not None and known.exchange != exchange:
        who = party_name(typed[0][0]) if typed else party_name(named[0][0]) if named else owner
        raise UsageError(f"exchange {name!r}: {who} declares it {_described(exchange)} for {message.label}, "
                         f"but {known.owner} declares it {_described(known.exchange)}")
    if known is None:
        exchanges[name] = _Exchanged(exchange, f"{owner} ({message.label})")
    return exchange


def _described(exchange: Exchange) -> str:
    flags = [exchange.type, "durable" if exchange.durable else "not durable"]
    return " ".join(flags + (["auto-delete"] if exchange.auto_delete else []))


def _publisher(message: Message, party: Party, binding: AmqpBinding, exchange: Exchange) -> Publisher:
    who = party_name(party)
    if binding.is_queue:
        raise UsageError(f"{message.label}: {who}'s amqp channel binding says the channel is a queue, so it "
                         f"would publish straight into that one queue, around exchange {exchange.name!r}, and "
                         "the other consumers would get nothing; drop `is: queue` on the producer's side")
    keys = binding.keys or (message.channel,)
    for key in keys:
        check_name("routing key", key, f"{message.label}: {who}")
        problem = routing.template_problem(key)
        if problem:
            raise UsageError(f"{message.label}: {who}'s routing key {printable(key)!r} {problem}")
        if exchange.type == "direct" and routing.has_parameters(key):
            raise UsageError(f"{message.label}: {who}'s routing key {printable(key)!r} has parameters, which a "
                             f"direct exchange ({exchange.name!r}) cannot route to one binding: use topic")
    return Publisher(message, party.service, exchange.name, keys)


def _binding_keys(message: Message, party: Party, binding: AmqpBinding, exchange: Exchange,
                  sent: list[Publisher]) -> tuple[str, ...]:
    who = party_name(party)
    keys = binding.keys or tuple(dict.fromkeys(routing.as_binding(k) for p in sent for k in p.keys))
    for key in keys:
        check_name("routing key", key, f"{message.label}: {who}")
        if exchange.type == "direct" and routing.has_wildcards(key):
            raise UsageError(f"{message.label}: {who} binds with {printable(key)!r}, but exchange "
                             f"{exchange.name!r} is direct and reads no wildcard: use topic")
    for publisher in sent:
        if not any(routing.routes(exchange.type, pattern, key) for pattern in keys for key in publisher.keys):
            raise UsageError(f"{message.label}: {who}'s binding {_keys(keys)} on {exchange.type} exchange "
                             f"{exchange.name!r} does not route what {publisher.producer} publishes "
                             f"({_keys(publisher.keys)})")
    return keys


def _keys(keys: Sequence[str]) -> str:
    return ", ".join(repr(printable(k)) for k in keys)


def _queue_name(service: str, message: Message, several: bool) -> str:
    return f"{service}.{message.channel}.{message.name}" if several else f"{service}.{message.channel}"


def _refuse_crossed_keys(routes: list[Route], publishers: list[Publisher],
                         exchanges: dict[str, _Exchanged]) -> None:
    """A queue must get its own message only: no binding of it may route another message's keys."""
    literal: dict[tuple[str, str], list[Publisher]] = {}
    templates: dict[str, list[tuple[str, Publisher]]] = {}
    every: dict[str, list[tuple[str, Publisher]]] = {}
    for publisher in publishers:
        for key in publisher.keys:
            every.setdefault(publisher.exchange, []).append((key, publisher))
            if routing.has_parameters(key):
                templates.setdefault(publisher.exchange, []).append((key, publisher))
            else:
                literal.setdefault((publisher.exchange, key), []).append(publisher)
    for route in routes:
        kind = exchanges[route.exchange].exchange.type
        for pattern in route.keys:
            if routing.has_wildcards(pattern):
                candidates = every.get(route.exchange, [])
            else:
                candidates = [(pattern, p) for p in literal.get((route.exchange, pattern), [])]
                candidates += templates.get(route.exchange, [])
            for key, publisher in candidates:
                if publisher.message != route.message and routing.routes(kind, pattern, key, every=False):
                    raise UsageError(
                        f"{route.consumer}'s queue {route.queue!r} for {route.message.label} (binding "
                        f"{printable(pattern)!r}) would also receive {publisher.message.label}, which "
                        f"{publisher.producer} publishes with key {printable(key)!r} on exchange "
                        f"{route.exchange!r}; give one of them its own routing key (amqp operation binding cc)")


def _declarations(routes: list[Route], settings: BrokerSettings, names: Mapping[str, str]
                  ) -> tuple[list[Route], list[Queue], list[Binding], list[Exchange]]:
    """Each route's work and attempt queues and bindings, and each consumer's retry and error queues."""
    attempts, delay = settings.retry.attempts, settings.retry.delay_ms
    out_routes, queues, bindings, retry_exchanges = [], [], [], []
    by_consumer: dict[str, list[Route]] = {}
    for route in routes:
        by_consumer.setdefault(route.consumer, []).append(route)
    for consumer in sorted(by_consumer):
        service = names.get(consumer) or broker_name(consumer)
        errors = f"{service}.errors"
        retries = [f"{service}.retry-{k}" for k in range(1, attempts)]
        for route in by_consumer[consumer]:
            chain = [route.queue, *(f"{route.queue}.attempt-{k}" for k in range(2, attempts + 1))]
            for k, name in enumerate(chain, 1):
                last = k == attempts
                arguments = {**QUORUM, "x-delivery-limit": attempts, **_SAFE_DEAD_LETTERS,
                             "x-dead-letter-exchange": "" if last else retries[k - 1],
                             "x-dead-letter-routing-key": errors if last else chain[k]}
                queues.append(Queue(name, QueueRole.WORK if k == 1 else QueueRole.ATTEMPT, consumer, arguments,
                                    route.message, k))
            bindings += [Binding(route.exchange, route.queue, key) for key in route.keys]
            out_routes.append(Route(route.message, consumer, route.exchange, route.keys, route.queue,
                                    tuple(chain[1:]), errors))
        for k, name in enumerate(retries, 1):
            # no dead-letter routing key: a message keeps the key its attempt queue gave it, the next attempt's name
            arguments = {**QUORUM, "x-message-ttl": delay, **_SAFE_DEAD_LETTERS, "x-dead-letter-exchange": ""}
            queues.append(Queue(name, QueueRole.RETRY, consumer, arguments, None, k))
            retry_exchanges.append(Exchange(name, "fanout"))
            bindings.append(Binding(name, name, ""))
        queues.append(Queue(errors, QueueRole.ERRORS, consumer, dict(QUORUM)))
    return out_routes, queues, bindings, retry_exchanges


def _refuse_same_names(queues: list[Queue], exchanges: dict[str, _Exchanged],
                       retry_exchanges: list[Exchange]) -> None:
    seen: dict[str, Queue] = {}
    for queue in queues:
        check_name("queue", queue.name, _owner(queue))
        other = seen.get(queue.name)
        if other is not None:
            raise UsageError(f"queue {queue.name!r} would be both {_owner(other)} and {_owner(queue)}: give one "
                             "its own name (an amqp binding queue.name, or the project's `service` in .meta)")
        seen[queue.name] = queue
    for exchange in retry_exchanges:
        check_name("exchange", exchange.name, f"the retry exchange of {exchange.name.rsplit('.', 1)[0]}")
        if exchange.name in exchanges:
            raise UsageError(f"exchange {exchange.name!r} would be both a retry exchange and the exchange "
                             f"{exchanges[exchange.name].owner} names")


def _owner(queue: Queue) -> str:
    what = {QueueRole.WORK: "queue", QueueRole.ATTEMPT: f"attempt-{queue.attempt} queue",
            QueueRole.RETRY: f"retry-{queue.attempt} queue", QueueRole.ERRORS: "error queue"}[queue.role]
    of = f" of {queue.message.label}" if queue.message is not None else ""
    return f"{queue.consumer}'s {what}{of}"
