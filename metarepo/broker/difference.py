"""The plan against the live vhost: what is missing, what differs, and what the plan does not have.

A queue or exchange that exists with other arguments (or type, or flags)
than the plan's cannot be changed in place: RabbitMQ refuses the
redeclaration (406 PRECONDITION_FAILED over AMQP, 400 "inequivalent arg"
over HTTP). It is reported with what differs, never deleted or redeclared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from metarepo.broker.live import LiveBinding, LiveExchange, LiveQueue, LiveState
from metarepo.broker.topology import Binding, Exchange, Queue, Topology

QUEUE_FIX = ("RabbitMQ cannot change a queue's arguments in place: move its messages off it (a shovel, or let its "
             "consumer drain it), delete it, and apply again")
EXCHANGE_FIX = "RabbitMQ cannot change an exchange in place: delete it (its bindings go with it) and apply again"


@dataclass(frozen=True)
class Mismatch:
    kind: str  # "queue" or "exchange"
    name: str
    detail: str  # what differs, broker against plan
    consumer: str = ""  # whose queue it is

    @property
    def fix(self) -> str:
        return QUEUE_FIX if self.kind == "queue" else EXCHANGE_FIX


@dataclass(frozen=True)
class Comparison:
    missing_exchanges: tuple[Exchange, ...]
    missing_queues: tuple[Queue, ...]
    missing_bindings: tuple[Binding, ...]
    different: tuple[Mismatch, ...]
    extra_exchanges: tuple[LiveExchange, ...]
    extra_queues: tuple[LiveQueue, ...]
    extra_bindings: tuple[LiveBinding, ...]
    unchanged: int  # planned declarations the broker already has as planned

    @property
    def missing(self) -> int:
        return len(self.missing_exchanges) + len(self.missing_queues) + len(self.missing_bindings)


def compare(topology: Topology, live: LiveState) -> Comparison:
    missing_exchanges, missing_queues, different = [], [], []
    unchanged = 0
    for exchange in topology.exchanges:
        found = live.exchanges.get(exchange.name)
        if found is None:
            missing_exchanges.append(exchange)
        elif (detail := _exchange_difference(exchange, found)):
            different.append(Mismatch("exchange", exchange.name, detail))
        else:
            unchanged += 1
    for queue in topology.queues:
        found_queue = live.queues.get(queue.name)
        if found_queue is None:
            missing_queues.append(queue)
        elif (detail := _queue_difference(queue, found_queue)):
            different.append(Mismatch("queue", queue.name, detail, queue.consumer))
        else:
            unchanged += 1
    bound = live.bound()
    missing_bindings = [b for b in topology.bindings if (b.source, b.destination, b.routing_key) not in bound]
    unchanged += len(topology.bindings) - len(missing_bindings)
    planned_exchanges = {e.name for e in topology.exchanges}
    planned_queues = {q.name for q in topology.queues}
    planned_bindings = {(b.source, b.destination, b.routing_key) for b in topology.bindings}
    extra_bindings = [b for b in live.bindings
                      if not _builtin(b.source) and not _transient(b, live)
                      and (b.destination_type != "queue" or b.arguments
                           or (b.source, b.destination, b.routing_key) not in planned_bindings)]
    return Comparison(
        tuple(missing_exchanges), tuple(missing_queues), tuple(missing_bindings), tuple(different),
        tuple(e for n, e in sorted(live.exchanges.items()) if not e.builtin and n not in planned_exchanges),
        tuple(q for n, q in sorted(live.queues.items()) if not q.transient and n not in planned_queues),
        tuple(extra_bindings), unchanged)


def _builtin(exchange: str) -> bool:
    return exchange == "" or exchange.startswith("amq.")


def _transient(binding: LiveBinding, live: LiveState) -> bool:
    queue = live.queues.get(binding.destination) if binding.destination_type == "queue" else None
    return queue is not None and queue.transient


def _exchange_difference(planned: Exchange, found: LiveExchange) -> str:
    wanted = {"type": planned.type, "durable": planned.durable, "auto_delete": planned.auto_delete,
              "internal": False}
    there = {"type": found.type, "durable": found.durable, "auto_delete": found.auto_delete,
             "internal": found.internal}
    return _differences(there, wanted) or _differences(dict(found.arguments), {}, "arguments ")


def _queue_difference(planned: Queue, found: LiveQueue) -> str:
    flags = _differences({"durable": found.durable, "auto_delete": found.auto_delete, "exclusive": found.exclusive},
                         {"durable": True, "auto_delete": False, "exclusive": False})
    return "; ".join(d for d in (flags, _differences(dict(found.arguments), dict(planned.arguments))) if d)


def _differences(there: Mapping[str, Any], wanted: Mapping[str, Any], prefix: str = "") -> str:
    parts = []
    for key in sorted(set(there) | set(wanted)):
        if there.get(key, _NONE) != wanted.get(key, _NONE):
            parts.append(f"{prefix}{key} is {_shown(there.get(key, _NONE))} on the broker, "
                         f"{_shown(wanted.get(key, _NONE))} in the plan")
    return "; ".join(parts)


_NONE = object()


def _shown(value: Any) -> str:
    return "unset" if value is _NONE else repr(value)
