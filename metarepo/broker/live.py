"""What one vhost of the broker holds now: its definitions, and, when asked, its queues' statistics.

Message counts come from the management API's statistics, which RabbitMQ
refreshes every few seconds (``collect_statistics_interval``); they are for
reports. A decision that must not lose messages (pruning a queue) asks the
broker itself to refuse a queue that is not empty (``if-empty=true``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from metarepo.broker.client import Management, segment

PROBE_PREFIX = "meta-probe."  # the probe's temporary queues: never anyone's, never pruned


@dataclass(frozen=True)
class LiveExchange:
    name: str
    type: str
    durable: bool
    auto_delete: bool
    internal: bool = False
    arguments: Mapping[str, Any] = field(default_factory=dict)

    @property
    def builtin(self) -> bool:
        """The default exchange and the ``amq.*`` ones every vhost has."""
        return self.name == "" or self.name.startswith("amq.")


@dataclass(frozen=True)
class LiveQueue:
    name: str
    durable: bool
    auto_delete: bool
    exclusive: bool
    arguments: Mapping[str, Any] = field(default_factory=dict)
    messages: int | None = None  # None: no statistics yet
    consumers: int | None = None

    @property
    def transient(self) -> bool:
        """Exclusive, or a probe's: somebody's temporary queue, never part of a plan."""
        return self.exclusive or self.name.startswith(PROBE_PREFIX) or self.name.startswith("amq.")


@dataclass(frozen=True)
class LiveBinding:
    source: str
    destination: str
    destination_type: str
    routing_key: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveState:
    exchanges: Mapping[str, LiveExchange]
    queues: Mapping[str, LiveQueue]
    bindings: tuple[LiveBinding, ...]

    def bound(self) -> set[tuple[str, str, str]]:
        """(source, queue, routing key) of every plain binding to a queue."""
        return {(b.source, b.destination, b.routing_key) for b in self.bindings
                if b.destination_type == "queue" and not b.arguments}


def read_live(client: Management, *, counts: bool = False) -> LiveState:
    """The vhost's exchanges, queues and bindings, from its definitions (the broker's own records: cheap);
    with ``counts``, each queue's statistics too (messages, consumers: the management API's, dearer)."""
    raw = client.call("GET", f"definitions/{segment(client.vhost)}") or {}
    stats: dict[str, dict[str, Any]] = {}
    if counts:
        listed = client.call("GET", client.vhost_path("queues"),
                             params={"columns": "name,exclusive,messages,consumers"}) or ()
        stats = {q["name"]: q for q in listed}
    return LiveState(
        exchanges={e["name"]: LiveExchange(e["name"], e.get("type", ""), bool(e.get("durable")),
                                           bool(e.get("auto_delete")), bool(e.get("internal")),
                                           e.get("arguments") or {}) for e in raw.get("exchanges") or ()},
        queues={q["name"]: LiveQueue(q["name"], bool(q.get("durable")), bool(q.get("auto_delete")),
                                     bool(stats.get(q["name"], {}).get("exclusive")), q.get("arguments") or {},
                                     stats.get(q["name"], {}).get("messages"),
                                     stats.get(q["name"], {}).get("consumers")) for q in raw.get("queues") or ()},
        bindings=tuple(LiveBinding(b.get("source", ""), b.get("destination", ""), b.get("destination_type", ""),
                                   b.get("routing_key", ""), b.get("arguments") or {})
                       for b in raw.get("bindings") or () if b.get("source")),  # the default exchange's: implicit
    )
