"""``check_broker``: drift between the contract graph's topology and the live broker.

Missing pieces (the run fails): a consumer's queue, attempt, retry or error
queue, or binding that is not there, an exchange that is not there, and
anything there with other arguments than planned. Reported, not failing: a
binding from the fleet's exchanges whose key routes no message anyone
publishes, a queue outside the plan that holds messages (nobody in the
graph reads them), and the rest of what the plan does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from metarepo.broker import routing
from metarepo.broker.apply import binding_name
from metarepo.broker.client import Management
from metarepo.broker.difference import compare
from metarepo.broker.live import read_live
from metarepo.broker.topology import QueueRole, Topology

_ROLES = {QueueRole.WORK: "work queue", QueueRole.ATTEMPT: "attempt queue", QueueRole.RETRY: "retry queue",
          QueueRole.ERRORS: "error queue"}


class DriftKind(str, Enum):
    MISSING_EXCHANGE = "missing exchange"
    MISSING_QUEUE = "missing queue"
    MISSING_BINDING = "missing binding"
    DIFFERENT = "different"
    UNPUBLISHED_BINDING = "binding to a message nobody publishes"
    UNREAD_QUEUE = "queue with messages and no consumer"
    NOT_PLANNED = "not in the plan"

    @property
    def missing(self) -> bool:
        return self in (DriftKind.MISSING_EXCHANGE, DriftKind.MISSING_QUEUE, DriftKind.MISSING_BINDING,
                        DriftKind.DIFFERENT)


@dataclass(frozen=True)
class Drift:
    kind: DriftKind
    what: str  # exchange, queue, binding
    name: str
    detail: str = ""
    consumer: str = ""  # whose piece it is, for missing ones

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind.name.lower(), "what": self.what, "name": self.name, "consumer": self.consumer or None,
                "detail": self.detail or None, "missing": self.kind.missing}


@dataclass(frozen=True)
class CheckResult:
    drifts: tuple[Drift, ...]
    in_step: int  # planned pieces found as planned

    @property
    def ok(self) -> bool:
        return not any(d.kind.missing for d in self.drifts)


def check_broker(client: Management, topology: Topology) -> CheckResult:
    client.overview()
    live = read_live(client, counts=True)
    diff = compare(topology, live)
    owners = {q.name: q for q in topology.queues}
    drifts = [Drift(DriftKind.MISSING_EXCHANGE, "exchange", e.name, e.type) for e in diff.missing_exchanges]
    for queue in diff.missing_queues:
        of = f" of {queue.message.label}" if queue.message is not None else ""
        drifts.append(Drift(DriftKind.MISSING_QUEUE, "queue", queue.name, f"{_ROLES[queue.role]}{of}",
                            queue.consumer))
    for binding in diff.missing_bindings:
        owner = owners[binding.destination]
        drifts.append(Drift(DriftKind.MISSING_BINDING, "binding", binding_name(binding),
                            owner.message.label if owner.message is not None else "", owner.consumer))
    drifts += [Drift(DriftKind.DIFFERENT, m.kind, m.name, f"{m.detail}. {m.fix}", m.consumer)
               for m in diff.different]
    fleet_exchanges = {p.exchange for p in topology.publishers} | {r.exchange for r in topology.routes}
    types = {e.name: e.type for e in topology.exchanges}
    for binding in diff.extra_bindings:
        if binding.source in fleet_exchanges and binding.destination_type == "queue" and not any(
                routing.routes(types[binding.source], binding.routing_key, key, every=False)
                for p in topology.publishers if p.exchange == binding.source for key in p.keys):
            drifts.append(Drift(DriftKind.UNPUBLISHED_BINDING, "binding", binding_name(binding),
                                "its key routes no message anyone in the graph publishes"))
        else:
            drifts.append(Drift(DriftKind.NOT_PLANNED, "binding", binding_name(binding)))
    for queue in diff.extra_queues:
        if queue.messages:
            drifts.append(Drift(DriftKind.UNREAD_QUEUE, "queue", queue.name,
                                f"{queue.messages} message{'s' * (queue.messages != 1)}, and no consumer in the "
                                "graph reads this queue"))
        else:
            drifts.append(Drift(DriftKind.NOT_PLANNED, "queue", queue.name))
    drifts += [Drift(DriftKind.NOT_PLANNED, "exchange", e.name) for e in diff.extra_exchanges]
    return CheckResult(tuple(drifts), diff.unchanged)
