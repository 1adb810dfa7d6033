"""``meta release promote``, ``rollback`` and ``status``: a train's recorded digests, moved between environments.

``promote`` rolls out exactly the digests a released train recorded to
another environment: nothing is rebuilt, and the contracts planner runs
against that environment (at the train's commits) before anything moves;
an image no longer in the registry refuses it there too. ``rollback``
redeploys, for each project of a train, the digest of the newest released
train before it, in the reverse of the train's rollout order. ``status``
reads which environment runs which train from ``environments/ENV.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from metarepo.errors import UsageError
from metarepo.manifest import Manifest
from metarepo.report import NULL, Reporter

from metarepo.release.plan import deployable
from metarepo.release.train import Train, TrainEntry, TrainState, list_trains, read_train


def _released(manifest: Manifest, name: str) -> Train:
    train = read_train(manifest.root, name)
    if train.state is not TrainState.RELEASED:
        raise UsageError(f"train {name!r} {train.state.value} ({train.failure or 'no reason recorded'}); only a "
                         "released train is promoted")
    return train


def _pins(manifest: Manifest, entries: Sequence[TrainEntry]) -> list[Any]:
    from metarepo.images.pinned import Pin

    return [Pin(e.project, e.image, e.digest, e.sha, e.version) for e in entries
            if e.image and e.digest and deployable(manifest.project(e.project))]


def _run(manifest: Manifest, env: str, plan: Any, *, jobs: int, reporter: Reporter) -> Any:
    from metarepo.release.gates import rollout_gates
    from metarepo.images.pinned import open_pinned_target
    from metarepo.images.rollout import run_rollout

    plan, target = open_pinned_target(manifest.root, plan, jobs=jobs, reporter=reporter)
    return run_rollout(manifest, plan, target, reporter=reporter, gates=rollout_gates(manifest, env))


def promote_train(manifest: Manifest, name: str, env: str, *, jobs: int = 4, reporter: Reporter = NULL) -> Any:
    """Roll train ``name``'s digests out to ``env``; a ``RolloutResult``. Refusals raise, nothing moved."""
    from metarepo.images.pinned import plan_pinned_rollout

    manifest.environment(env)
    train = _released(manifest, name)
    pins = _pins(manifest, train.entries)
    if not pins:
        raise UsageError(f"train {name!r} has no image to promote")
    plan = plan_pinned_rollout(manifest, env, pins)  # the contracts planner against ENV, at the train's commits
    return _run(manifest, env, plan, jobs=jobs, reporter=reporter)


@dataclass(frozen=True)
class Rollback:
    train: str
    previous: dict[str, str]  # project -> the train its digest comes from
    not_rolled_back: dict[str, str]  # project -> why
    result: Any  # RolloutResult, or None when there was nothing to roll back


def rollback_train(manifest: Manifest, name: str, env: str, *, jobs: int = 4, reporter: Reporter = NULL) -> Rollback:
    """Each project of train ``name`` back to the newest released train before it, in reverse rollout order."""
    from metarepo.images.pinned import plan_pinned_rollout

    manifest.environment(env)
    trains = list_trains(manifest.root)
    train = read_train(manifest.root, name)
    earlier = [t for t in trains if (t.created, t.name) < (train.created, train.name)
               and t.state is TrainState.RELEASED]
    previous: dict[str, str] = {}
    entries: list[TrainEntry] = []
    missing: dict[str, str] = {}
    for entry in train.entries:
        older = [(t, t.entry(entry.project)) for t in reversed(earlier)]
        source = next(((t, e) for t, e in older if e is not None and e.digest), None)
        if source is None:
            missing[entry.project] = "no earlier released train has an image of it"
        else:
            previous[entry.project] = source[0].name
            entries.append(source[1])
    pins = _pins(manifest, entries)
    if not pins:
        why = "; ".join(f"{k}: {v}" for k, v in missing.items()) or "it has no images"
        raise UsageError(f"nothing to roll back train {name!r} to ({why})")
    order = list(train.order) + [e.project for e in entries if e.project not in train.order]
    plan = plan_pinned_rollout(manifest, env, pins, order=list(reversed(order)))
    return Rollback(name, previous, missing, _run(manifest, env, plan, jobs=jobs, reporter=reporter))


@dataclass(frozen=True)
class TrainStatus:
    train: Train
    running: dict[str, str]  # environment -> "all" or "partly (k of n)"

    def as_json(self) -> dict[str, Any]:
        return {**self.train.as_json(), "running_in": self.running}


def train_status(manifest: Manifest, name: str | None = None) -> list[TrainStatus]:
    """The trains (or one), each with the environments that run its digests, from ``environments/ENV.json``."""
    from metarepo.environments import read_deployments

    trains = [read_train(manifest.root, name)] if name else list_trains(manifest.root)
    deployed = {env: read_deployments(manifest.root, env) for env in manifest.environments if env != "//"}
    found = []
    for train in trains:
        images = [e for e in train.entries if e.digest]
        running = {}
        for env, records in deployed.items():
            matching = sum(1 for e in images if (records.get(e.project) and records[e.project].digest == e.digest))
            if images and matching == len(images):
                running[env] = "all"
            elif matching:
                running[env] = f"partly ({matching} of {len(images)})"
        found.append(TrainStatus(train, running))
    return found
