"""A deployment order for several changed services that never breaks a live pair.

Safety is monotone: once the final state (every changed service at its new
version, everything else as deployed) is compatible, a service that is safe
to deploy stays safe after others are deployed. So a greedy pass in manifest
order finds an order whenever one exists, in at most n^2 pair checks, and
when it is stuck the pair that blocks it is exactly the one to report.
"""

from __future__ import annotations

from typing import Mapping

from metarepo.errors import WorkFailed
from metarepo.manifest import Manifest

from metarepo.contracts.matching import Link
from metarepo.contracts.model import STRICT, Compatibility, Contract, Pair


class NoSafeOrder(WorkFailed):
    """No order of the changed services keeps every live pair compatible (exit 1)."""

    def __init__(self, message: str, *, pair: Pair | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.pair = pair


def deploy_order(manifest: Manifest, services: list[str], env: str, *, policy: str = STRICT,
                 at: Mapping[str, str] | None = None) -> list[str]:
    """The services in an order safe to deploy to ``env``, one at a time.

    Each service's new contracts are read from its work tree (or from git at
    the commit ``at`` names for it: a release train's recorded shas); every other
    service's (and each changed service's old ones) from git at the sha that
    ``environments/ENV.json`` records for ``env``; a service with no record
    is not live there. A step is safe when the service's new contracts are
    compatible with every live counterpart (the new versions of the services
    already deployed in this plan, the recorded versions of all others). A
    pair that is already incompatible in ``env`` (same message, producer and
    consumer) is the status quo and does not block; it is ``check``'s job.
    Services are taken in manifest order whenever that is safe, so services
    with no contracts keep their manifest order. Names are returned as the
    manifest spells them (``services/orders``); ``services`` may use either
    that or the last part (``orders``).

    Raises ``NoSafeOrder`` (a ``MetaError``, exit 1) naming the blocking pair
    and how to split the change when no order exists, ``NotFoundError`` (exit
    2) for an unknown service or environment, and ``ManifestError`` (exit 2)
    for a contract file that does not load.
    """
    from metarepo.contracts.compare import compare_schemas
    from metarepo.contracts.deploy import counterparts, deployed_contracts, side_by_side
    from metarepo.contracts.fleet import project_contract

    manifest.environment(env)
    chosen = {manifest.project(name).name for name in services}
    names = [p.name for p in manifest.projects if p.name in chosen]
    at = at or {}
    new = {name: project_contract(manifest.project(name), at.get(name)) for name in names}
    deployed, _ = deployed_contracts(manifest, env)
    old = {name: deployed[name] for name in names if name in deployed}
    others = {name: c for name, c in deployed.items() if name not in chosen}

    # A pair already broken in ENV is the status quo, not this plan's doing: it does not block.
    live_now = {**others, **old}
    status_quo = {_key(link) for name, contract in live_now.items()
                  for link in counterparts(contract, {k: v for k, v in live_now.items() if k != name})
                  if not compare_schemas(link.writer, link.reader, policy).compatible}
    labels = {name: "new" for name in names}

    def breaking(name: str, live: dict[str, Contract]) -> list[Pair]:
        found = []
        for link in counterparts(new[name], live):
            if _key(link) in status_quo:
                continue
            verdict = compare_schemas(link.writer, link.reader, policy)
            if not verdict.compatible:  # breaking, or undecided: neither is safe
                found.append(link.pair(verdict, labels.get(link.producer, "deployed"),
                                       labels.get(link.consumer, "deployed")))
        return found

    # During its own rollout each changed service's old and new instances run side by side.
    for name in names:
        if name in old:
            rolling = [pair for pair in side_by_side(new[name], old[name], policy, "new", "deployed")
                       if not pair.compatible and _pair_key(pair) not in status_quo]
            if rolling:
                raise _blocked(rolling[0], env, final=False, side_by_side=True)

    final = {**others, **new}
    for name in names:
        broken = breaking(name, {k: v for k, v in final.items() if k != name})
        if broken:
            raise _blocked(broken[0], env, final=True)

    done: list[str] = []
    while len(done) < len(names):
        live = {**others, **old, **{n: new[n] for n in done}}
        blockers: list[Pair] = []
        for name in names:
            if name in done:
                continue
            labels.update({n: "deployed" for n in names if n not in done and n != name})
            labels.update({n: "new" for n in done})
            labels[name] = "new"
            broken = breaking(name, {k: v for k, v in live.items() if k != name})
            if not broken:
                done.append(name)
                break
            blockers.append(broken[0])
        else:
            raise _blocked(blockers[0], env, final=False)
    return done


def _key(link: Link) -> tuple:
    return link.sent, link.producer, link.read, link.consumer


def _pair_key(pair: Pair) -> tuple:
    return pair.message, pair.producer, pair.reader_message, pair.consumer


def _blocked(pair: Pair, env: str, *, final: bool, side_by_side: bool = False) -> NoSafeOrder:
    change = next((c for c in pair.verdict.changes if c.breaking), None)
    what = f"{change.path}: {change.message}" if change else "incompatible"
    if pair.state is Compatibility.UNDECIDED:
        what = f"could not decide within the limits: {what}"
    where = (f"{pair.message.label}: {pair.producer} ({pair.producer_version}) -> "
             f"{pair.consumer} ({pair.consumer_version})")
    if side_by_side:
        where += ", while its old and new instances run side by side during its rollout"
    if final:
        return NoSafeOrder(f"no safe order: even with every change deployed, {where} breaks ({what})", pair=pair,
                           hint="fix the contracts so the new versions agree; no order can help")
    required = change is not None and change.kind == "required_property_added"
    step = ("make the field optional first, deploy, then require it in a later change" if required else
            "first deploy a version that accepts both the old and the new message, then the other side, "
            "then drop the old form")
    return NoSafeOrder(f"no safe order to {env}: {where} breaks ({what})", pair=pair,
                       hint=f"split the change: {step}")


def changed_services(manifest: Manifest, env: str) -> list[str]:
    """Cloned services with uncommitted changes, or whose HEAD is not the sha ``env`` records (or no record)."""
    from metarepo.environments import read_deployments
    from metarepo.git import branch_status

    manifest.environment(env)
    records = read_deployments(manifest.root, env)
    changed = []
    for project in manifest.projects:
        if not project.cloned:
            continue
        record = records.get(project.name)
        status = branch_status(project.path)
        if record is None or status.oid != record.sha or status.changed or status.untracked:
            changed.append(project.name)
    return changed
