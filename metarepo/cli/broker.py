"""``meta broker plan|apply|check|probe ENV``: the message broker's topology, from the contract graph."""

from __future__ import annotations

from typing import Any

import click

from metarepo.cli.app import application
from metarepo.cli.common import json_option, manifest_from

_ENV = click.argument("env")


@click.group()
def broker() -> None:
    """The broker's exchanges, queues, retries and error queues, derived from the contract graph.

    The environment's `broker` setting names the RabbitMQ management API;
    the user and password come from META_BROKER_USER and META_BROKER_PASSWORD.
    """


def _fleet(ctx: click.Context, env: str) -> Any:
    from metarepo.broker.fleet import load_broker_fleet

    fleet = load_broker_fleet(manifest_from(ctx), env)
    app = application(ctx)
    if not app.as_json:
        for note in fleet.notes:
            app.note(note)
        for message, consumer in fleet.topology.unpublished:
            app.note(f"{consumer} reads {message.label}, which nobody publishes: no queue planned for it")
    return fleet


@broker.command()
@_ENV
@json_option
@click.pass_context
def plan(ctx: click.Context, env: str, as_json: bool) -> int:
    """What the broker of ENV should hold: exchanges, each consumer's queues and bindings."""
    app = application(ctx)
    fleet = _fleet(ctx, env)
    topology, settings = fleet.topology, fleet.settings
    if as_json:
        app.json(_plan_json(fleet))
        return 0
    retry = settings.retry
    app.echo(f"broker {env}: {settings.url} vhost {settings.vhost}, exchange {settings.exchange}; "
             f"{retry.attempts} attempt{'s' * (retry.attempts != 1)}, {retry.delay_ms} ms apart, then the "
             "consumer's error queue")
    rows = [[r.message.label, r.consumer, r.exchange, ", ".join(r.keys), r.queue] for r in topology.routes]
    if rows:
        app.table(["MESSAGE", "CONSUMER", "EXCHANGE", "BINDING", "QUEUE"], rows)
    for consumer in sorted({r.consumer for r in topology.routes}):
        routes = topology.routes_of(consumer)
        attempts = [name for r in routes for name in r.attempts]
        retries = [q.name for q in topology.queues_of(consumer) if q.role.value == "retry"]
        app.echo(f"{consumer}: errors {routes[0].errors}"
                 + (f"; retries {', '.join(retries)}; attempt queues {', '.join(attempts)}" if attempts else ""))
    app.echo(f"plan {env}: {len(topology.exchanges)} exchanges, {len(topology.queues)} queues, "
             f"{len(topology.bindings)} bindings for {len(topology.routes)} consumers' messages", err=True)
    return 0


def _plan_json(fleet: Any) -> dict[str, Any]:
    topology = fleet.topology
    return {
        "environment": fleet.settings.environment, "broker": fleet.settings.as_json(),
        "exchanges": [e.definition() for e in topology.exchanges],
        "queues": [{**q.definition(), "role": q.role.value, "consumer": q.consumer,
                    "message": q.message.label if q.message else None, "attempt": q.attempt or None}
                   for q in topology.queues],
        "bindings": [b.definition() for b in topology.bindings],
        "routes": [{"message": r.message.label, "channel": r.message.channel, "consumer": r.consumer,
                    "exchange": r.exchange, "binding_keys": list(r.keys), "queue": r.queue,
                    "attempt_queues": list(r.attempts), "error_queue": r.errors} for r in topology.routes],
        "publishers": [{"message": p.message.label, "producer": p.producer, "exchange": p.exchange,
                        "routing_keys": list(p.keys)} for p in topology.publishers],
        "unpublished": [{"message": m.label, "consumer": c} for m, c in topology.unpublished],
        "unconsumed": [{"message": m.label, "producer": p} for m, p in topology.unconsumed],
        "notes": list(fleet.notes),
    }


@broker.command()
@_ENV
@click.option("--prune", is_flag=True, help="Also remove what the vhost has and the plan does not.")
@click.option("--force", is_flag=True, help="With --prune: delete queues that hold messages too.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=8, show_default=True,
              help="HTTP calls at once when pruning.")
@json_option
@click.pass_context
def apply(ctx: click.Context, env: str, prune: bool, force: bool, jobs: int, as_json: bool) -> int:
    """Declare ENV's topology on its broker; nothing is deleted without --prune."""
    from metarepo.broker.apply import ChangeKind, apply_topology
    from metarepo.broker.fleet import open_management
    from metarepo.errors import UsageError

    if force and not prune:
        raise UsageError("--force only goes with --prune (it lets prune delete queues that hold messages)")
    app = application(ctx)
    fleet = _fleet(ctx, env)
    result = apply_topology(open_management(fleet.settings), fleet.topology, prune=prune, force=force, jobs=jobs)
    if as_json:
        app.json({"environment": env, "ok": result.ok, "unchanged": result.unchanged,
                  "changes": [c.as_json() for c in result.changes]})
        return 0 if result.ok else 1
    listed: dict[tuple[str, str], int] = {}
    for change in result.changes:
        line = f"{change.what} {change.name}" + (f": {change.detail}" if change.detail else "")
        if change.kind in (ChangeKind.CREATED, ChangeKind.DELETED):
            if _shown(listed, (change.kind.value, change.what), app):
                app.done(f"{change.kind.value} {change.what} {change.name}")
        elif change.kind is ChangeKind.KEPT:
            app.skipped(f"{change.what} {change.name}", f"kept, {change.detail}")
        elif change.kind is ChangeKind.DIFFERENT:
            app.failed(line, "arguments differ")
        elif _shown(listed, (change.kind.value, change.what), app):
            app.failed(line, "not declared")
    _more(listed, app)
    counts = [f"{result.count(k)} {k.value}" for k in ChangeKind if result.count(k)]
    app.echo(f"apply {env}: {', '.join(counts + [f'{result.unchanged} unchanged'])}", err=True)
    return 0 if result.ok else 1


@broker.command()
@_ENV
@json_option
@click.pass_context
def check(ctx: click.Context, env: str, as_json: bool) -> int:
    """Drift between the contract graph and ENV's broker; exit 1 when a piece is missing."""
    from metarepo.broker.check import DriftKind, check_broker
    from metarepo.broker.fleet import open_management

    app = application(ctx)
    fleet = _fleet(ctx, env)
    result = check_broker(open_management(fleet.settings), fleet.topology)
    if as_json:
        app.json({"environment": env, "ok": result.ok, "in_step": result.in_step,
                  "drift": [d.as_json() for d in result.drifts]})
        return 0 if result.ok else 1
    listed: dict[tuple[str, str], int] = {}
    for drift in result.drifts:
        who = f"{drift.consumer}: " if drift.consumer else ""
        what = f"{drift.kind.value} {drift.name}" if drift.kind.missing else \
            f"{drift.kind.value}: {drift.what} {drift.name}"
        text = f"{who}{what}" + (f" ({drift.detail})" if drift.detail else "")
        if not _shown(listed, (drift.kind.value, drift.what), app):
            continue
        if drift.kind.missing:
            app.echo(app.style(f"✗ {text}", fg="red"))
        elif drift.kind is DriftKind.NOT_PLANNED:
            app.echo(app.style(f"· {text}", dim=True))
        else:
            app.echo(app.style(f"! {text}", fg="yellow"))
    _more(listed, app)
    missing = sum(1 for d in result.drifts if d.kind.missing)
    others = len(result.drifts) - missing
    app.echo(f"check {env}: {result.in_step} in step, {missing} missing or different, {others} other", err=True)
    if any(d.kind.missing and d.kind is not DriftKind.DIFFERENT for d in result.drifts):
        app.info(f"`meta broker apply {env}` declares what is missing")
    return 0 if result.ok else 1


@broker.command()
@_ENV
@click.argument("messages", nargs=-1)
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=5.0, show_default=True,
              help="Seconds to wait for each example to arrive.")
@json_option
@click.pass_context
def probe(ctx: click.Context, env: str, messages: tuple[str, ...], timeout: float, as_json: bool) -> int:
    """Publish a valid example of each MESSAGE (all by default) and confirm it reaches every consumer.

    The consumers' own queues are never touched: the examples go to
    temporary queues bound the same way, which vanish with the probe.
    """
    from metarepo.broker.fleet import open_management
    from metarepo.broker.probe import probe_broker, select_messages

    app = application(ctx)
    fleet = _fleet(ctx, env)
    chosen = select_messages(fleet.topology, messages)
    outcomes = probe_broker(open_management(fleet.settings), fleet.topology, fleet.contracts, chosen,
                            timeout=timeout)
    ok = all(o.ok for o in outcomes)
    if as_json:
        app.json({"environment": env, "ok": ok, "probes": [o.as_json() for o in outcomes]})
        return 0 if ok else 1
    for outcome in outcomes:
        head = f"{outcome.message.label} from {outcome.producer} (key {outcome.routing_key!r})"
        if outcome.error:
            app.failed(head, outcome.error, err=False)
            continue
        if outcome.reached:
            app.done(head, f"reached {', '.join(outcome.reached)}")
        for consumer, why in outcome.missed:
            app.failed(f"{head} -> {consumer}", why, err=False)
    passed = sum(1 for o in outcomes if o.ok)
    app.echo(f"probe {env}: {passed} of {len(outcomes)} examples reached every consumer", err=True)
    return 0 if ok else 1


_LISTED = 10  # lines of one kind of routine change shown; the rest are counted (--json lists every one)


def _shown(listed: dict[tuple[str, str], int], kind: tuple[str, str], app: Any) -> bool:
    listed[kind] = listed.get(kind, 0) + 1
    return listed[kind] <= _LISTED


def _more(listed: dict[tuple[str, str], int], app: Any) -> None:
    for (change, what), count in listed.items():
        if count > _LISTED:
            app.echo(app.style(f"  ... and {count - _LISTED} more: {change} ({what}s; --json lists them all)",
                               dim=True))
