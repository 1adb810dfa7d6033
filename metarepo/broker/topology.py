"""The broker's topology as values: exchanges, queues, bindings, and the routes the graph asks for.

A ``Topology`` is what ``plan_topology`` derives from the contract graph
and what ``apply`` declares; ``definitions()`` is the same thing in the
shape of RabbitMQ's definitions document (``POST /api/definitions/VHOST``).
Names are checked here against what RabbitMQ itself refuses, before any
call: longer than 255 bytes, or starting with ``amq.`` (reserved).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

from metarepo.contracts.model import Message
from metarepo.errors import UsageError

MAX_NAME_BYTES = 255  # AMQP 0-9-1 short strings: queue and exchange names, routing keys
RESERVED_PREFIX = "amq."
EXCHANGE_TYPES = ("topic", "direct")  # the types that route by key: what the graph's keys need


class QueueRole(str, Enum):
    """What a queue is for. A consumer reads ``work`` and ``attempt`` queues; ``retry`` queues wait."""

    WORK = "work"  # a consumer's queue of one message, bound to the exchange: its first attempt
    ATTEMPT = "attempt"  # the same message's next attempt, after a wait in a retry queue
    RETRY = "retry"  # one per consumer and attempt: a message waits here (TTL), then goes on
    ERRORS = "errors"  # one per consumer: where a message ends after its last attempt


@dataclass(frozen=True)
class Exchange:
    name: str
    type: str = "topic"
    durable: bool = True
    auto_delete: bool = False

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "durable": self.durable, "auto_delete": self.auto_delete,
                "internal": False, "arguments": {}}


@dataclass(frozen=True)
class Queue:
    name: str
    role: QueueRole
    consumer: str  # the project that reads it (or whose retries and errors it holds)
    arguments: Mapping[str, Any] = field(default_factory=dict)
    message: Message | None = None  # work and attempt queues: the message they hold
    attempt: int = 0  # work: 1, attempt: 2..N, retry: the attempt that failed

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "durable": True, "auto_delete": False, "arguments": dict(self.arguments)}


@dataclass(frozen=True)
class Binding:
    source: str  # an exchange
    destination: str  # a queue
    routing_key: str

    def definition(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination, "destination_type": "queue",
                "routing_key": self.routing_key, "arguments": {}}


@dataclass(frozen=True)
class Route:
    """One consumer of one message: its work queue, bound to ``exchange`` with ``keys``, and what follows it."""

    message: Message
    consumer: str
    exchange: str
    keys: tuple[str, ...]  # binding keys
    queue: str  # the work queue (attempt 1)
    attempts: tuple[str, ...]  # the attempt queues 2..N, in order
    errors: str


@dataclass(frozen=True)
class Publisher:
    """One producer of one message: the exchange it publishes to and the routing keys it publishes with."""

    message: Message
    producer: str
    exchange: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Topology:
    vhost: str
    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]
    bindings: tuple[Binding, ...]
    routes: tuple[Route, ...]
    publishers: tuple[Publisher, ...]
    unpublished: tuple[tuple[Message, str], ...] = ()  # (message, consumer): nobody publishes it; no queue planned
    unconsumed: tuple[tuple[Message, str], ...] = ()  # (message, producer): nobody reads it; nothing planned
    notes: tuple[str, ...] = ()

    def definitions(self) -> dict[str, Any]:
        """The vhost's definitions document for all of it (``POST /api/definitions/VHOST``)."""
        return definitions(self.exchanges, self.queues, self.bindings)

    def routes_of(self, consumer: str) -> tuple[Route, ...]:
        return tuple(r for r in self.routes if r.consumer == consumer)

    def queues_of(self, consumer: str) -> tuple[Queue, ...]:
        return tuple(q for q in self.queues if q.consumer == consumer)

    def consumers_of(self, message: Message) -> tuple[Route, ...]:
        return tuple(r for r in self.routes if r.message == message)


def definitions(exchanges: Any = (), queues: Any = (), bindings: Any = ()) -> dict[str, Any]:
    return {"exchanges": [e.definition() for e in exchanges], "queues": [q.definition() for q in queues],
            "bindings": [b.definition() for b in bindings]}


def check_name(kind: str, name: str, owner: str) -> None:
    """Refuse, before any call, a name RabbitMQ would refuse. ``owner`` says where it came from."""
    size = len(name.encode("utf-8", "surrogatepass"))
    if kind != "routing key" and not name:
        raise UsageError(f"{owner}: an empty {kind} name is not allowed")
    if size > MAX_NAME_BYTES:
        raise UsageError(f"{owner}: {kind} {_shown(name)} is {size} bytes long; RabbitMQ allows at most "
                         f"{MAX_NAME_BYTES}")
    if kind != "routing key" and name.startswith(RESERVED_PREFIX):
        raise UsageError(f"{owner}: {kind} {_shown(name)} starts with {RESERVED_PREFIX!r}, which RabbitMQ "
                         "reserves for itself")


def _shown(name: str) -> str:
    from metarepo.errors import printable

    return repr(printable(name if len(name) <= 60 else name[:40] + "..." + name[-12:]))
