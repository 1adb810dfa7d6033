"""``apply_topology``: declare what the plan says and the broker lacks; with ``prune``, remove what it lacks.

Declaring is what is missing, as definitions documents (``POST
/api/definitions/VHOST``, a few chunks at a time: one request for a large
fleet would outlast the API's idle timeout), which RabbitMQ imports
additively; the vhost is read again to confirm it all got there. What
exists as planned is not sent again, and what exists otherwise is reported
(it cannot be changed in place) and left alone, so applying twice changes
nothing and applying never destroys.

``prune`` removes, in this order, the bindings, queues and exchanges of the
vhost that the plan does not have (RabbitMQ's own ``amq.*`` and the
default exchange, exclusive queues and the probe's are never touched).
A queue is deleted only when the broker says, over AMQP, that it holds no
ready message and has no consumer (quorum queues refuse ``if-empty``, and
the HTTP API's counts lag); otherwise it is kept, unless ``force``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Iterable

from metarepo.errors import MetaError

from metarepo.broker.client import BULK_TIMEOUT, BrokerRefused, Management, segment
from metarepo.broker.difference import Comparison, compare
from metarepo.broker.live import LiveBinding, read_live
from metarepo.broker.topology import Binding, Exchange, Queue, Topology, definitions

CHUNK = 500  # declarations per definitions request: each ends well within the management API's 120 s idle timeout
IMPORTS_AT_ONCE = 2  # the broker declares one import's queues in parallel already; more at once only adds load


class ChangeKind(str, Enum):
    CREATED = "created"
    DELETED = "deleted"
    KEPT = "kept"  # prune would remove it, but it holds messages (or could not be shown empty)
    DIFFERENT = "different"  # exists with other arguments than planned: reported, left alone
    FAILED = "failed"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    what: str  # exchange, queue, binding
    name: str
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"change": self.kind.value, "what": self.what, "name": self.name, "detail": self.detail or None}


@dataclass(frozen=True)
class ApplyResult:
    changes: tuple[Change, ...]
    unchanged: int

    @property
    def ok(self) -> bool:
        return not any(c.kind in (ChangeKind.DIFFERENT, ChangeKind.FAILED) for c in self.changes)

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for c in self.changes if c.kind is kind)


def apply_topology(client: Management, topology: Topology, *, prune: bool = False, force: bool = False,
                   jobs: int = 8) -> ApplyResult:
    overview = client.overview()
    diff = compare(topology, read_live(client))
    changes = [Change(ChangeKind.DIFFERENT, m.kind, m.name, f"{m.detail}. {m.fix}") for m in diff.different]
    changes += _declare(client, topology, diff, jobs)
    if prune:
        changes += _prune(client, overview, diff, force, jobs)
    return ApplyResult(tuple(changes), diff.unchanged)


def binding_name(binding: Any) -> str:
    key = binding.routing_key
    return f"{binding.source} -> {binding.destination}" + (f" ({key!r})" if key else "")


def _declare(client: Management, topology: Topology, diff: Comparison, jobs: int) -> list[Change]:
    """What is missing, imported in chunks a few at a time: exchanges and queues, then the bindings between them.

    An import skips what it cannot declare without saying so (a binding whose queue is missing), so the
    vhost is read again afterwards: what is still missing then has failed.
    """
    if not diff.missing:
        return []
    refusals: list[str] = []

    def send(chunk: list[Any]) -> None:
        document = definitions([x for x in chunk if isinstance(x, Exchange)],
                               [x for x in chunk if isinstance(x, Queue)], [x for x in chunk if isinstance(x, Binding)])
        try:
            client.call("POST", f"definitions/{segment(client.vhost)}", document, timeout=BULK_TIMEOUT)
        except BrokerRefused as exc:
            refusals.append(exc.reason)

    for phase in ([*diff.missing_exchanges, *diff.missing_queues], list(diff.missing_bindings)):
        chunks = [phase[n:n + CHUNK] for n in range(0, len(phase), CHUNK)]
        with ThreadPoolExecutor(max(1, min(jobs, IMPORTS_AT_ONCE, len(chunks) or 1))) as pool:
            list(pool.map(send, chunks))
    after = compare(topology, read_live(client))
    still = {("exchange", e.name) for e in after.missing_exchanges} | \
            {("queue", q.name) for q in after.missing_queues} | \
            {("binding", binding_name(b)) for b in after.missing_bindings}
    why = refusals[0] if refusals else "the broker did not declare it (its log may say why)"
    wanted = [("exchange", e.name) for e in diff.missing_exchanges] + \
             [("queue", q.name) for q in diff.missing_queues] + \
             [("binding", binding_name(b)) for b in diff.missing_bindings]
    return [Change(ChangeKind.FAILED, what, name, why) if (what, name) in still
            else Change(ChangeKind.CREATED, what, name) for what, name in wanted]


def _prune(client: Management, overview: dict[str, Any], diff: Comparison, force: bool, jobs: int) -> list[Change]:
    changes = _each(jobs, diff.extra_bindings, lambda b: _unbind(client, b))
    if diff.extra_queues:
        changes += _delete_queues(client, overview, [q.name for q in diff.extra_queues], force, jobs)
    changes += _each(jobs, diff.extra_exchanges, lambda e: _delete(client, "exchange", e.name,
                                                                  client.vhost_path("exchanges", e.name)))
    return changes


def _unbind(client: Management, binding: LiveBinding) -> Change:
    """Delete one binding by the name the API gives it (its ``properties_key``, asked for: it encodes the key)."""
    kind = "q" if binding.destination_type == "queue" else "e"
    between = "/".join([client.vhost_path("bindings"), "e", segment(binding.source), kind,
                        segment(binding.destination)])
    name = binding_name(binding)
    try:
        listed = client.call("GET", between) or ()
    except BrokerRefused as exc:
        return Change(ChangeKind.FAILED, "binding", name, exc.reason)
    keys = [b.get("properties_key") for b in listed
            if b.get("routing_key") == binding.routing_key and (b.get("arguments") or {}) == dict(binding.arguments)]
    if not keys:
        return Change(ChangeKind.DELETED, "binding", name)  # gone already
    return _delete(client, "binding", name, f"{between}/{segment(keys[0])}")


def _delete(client: Management, what: str, name: str, path: str) -> Change:
    try:
        client.call("DELETE", path, ok=(204, 404))
    except BrokerRefused as exc:
        return Change(ChangeKind.FAILED, what, name, exc.reason)
    return Change(ChangeKind.DELETED, what, name)


def _delete_queues(client: Management, overview: dict[str, Any], names: list[str], force: bool,
                   jobs: int) -> list[Change]:
    if force:
        return _each(jobs, names, lambda n: _delete(client, "queue", n, client.vhost_path("queues", n)))
    from metarepo.broker.amqp import connected, ready

    out: list[Change] = []
    try:
        with connected(client, overview) as connection:  # one channel at a time: pika is not thread-safe
            empty = []
            for name in names:
                now = ready(connection, name)
                if now is None:
                    continue
                messages, consumers = now
                if messages or consumers:
                    why = ", ".join(p for p in (f"{messages} ready message{'s' * (messages != 1)}" if messages
                                                else "", f"{consumers} consumer{'s' * (consumers != 1)}"
                                                if consumers else "") if p)
                    out.append(Change(ChangeKind.KEPT, "queue", name, f"{why}; --force deletes it anyway"))
                else:
                    empty.append(name)
    except MetaError as exc:  # cannot show them empty: keep them all
        return [Change(ChangeKind.KEPT, "queue", n, f"could not make sure it is empty ({exc}); --force deletes "
                                                    "it anyway") for n in names]
    return out + _each(jobs, empty, lambda n: _delete(client, "queue", n, client.vhost_path("queues", n)))


def _each(jobs: int, items: Iterable[Any], work: Callable[[Any], Change]) -> list[Change]:
    items = list(items)
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max(1, min(jobs, len(items)))) as pool:
        return list(pool.map(work, items))
