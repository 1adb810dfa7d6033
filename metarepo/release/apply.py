"""``meta release apply``: plan, gate, pre-flight, commit and tag, push everywhere or nowhere, build, roll out.

1. The plan (``plan``), and the contracts gate over the train: with no
   safe order to ENV, nothing is tagged.
2. The pre-flight over every repository (``preflight``), then the release
   commits and tags in every clone, then the push (``publish``): if any
   repository refuses, every remote and clone is put back and nothing is
   recorded.
3. Each image built once and pushed (``images.build``); each train
   project's image and digest is what the train records.
4. Unless ``--no-rollout``, the rollout to ENV in the planner's order, gated
   as ``meta rollout`` is (``release.gates.rollout_gates``); a failure rolls
   the batch back.
5. ``releases/NAME.json``, committed: ``released``, or ``failed`` when a build
   or the rollout failed after the tags were pushed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

from metarepo.errors import EngineUnavailable, UsageError, WorkFailed
from metarepo.manifest import Manifest, Project
from metarepo.report import NULL, Reporter

from metarepo.release.plan import ReleasePlan, deployable, plan_release, today
from metarepo.release.preflight import preflight
from metarepo.release.publish import Local, PushResult, commit_releases, push_train
from metarepo.release.train import Train, TrainEntry, TrainState, check_name, default_name, now, record_train, \
    train_file


@dataclass(frozen=True)
class ApplyResult:
    name: str
    plan: ReleasePlan
    push: PushResult | None = None
    train: Train | None = None  # what was recorded (None: nothing landed)
    recorded: str | None = None
    commit: str | None = None
    built: Mapping[str, str] = field(default_factory=dict)  # project -> "image@digest"
    build_failed: Mapping[str, str] = field(default_factory=dict)  # project -> why
    rollout: Any = None  # images.rollout.RolloutResult
    interrupted: bool = False
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.train is not None and self.train.state is TrainState.RELEASED and not self.interrupted


def apply_train(manifest: Manifest, projects: Sequence[Project], *, name: str | None = None, env: str | None = None,
                rollout: bool = True, registry: str | None = None, jobs: int = 4, reporter: Reporter = NULL,
                after_push: Callable[[Sequence[Local]], Sequence[str]] | None = None) -> ApplyResult:
    """Release the train; see the module's docstring. Refusals before the push raise (nothing changed).

    ``after_push`` is called with every landed repository once all pushes
    succeeded (GitHub Releases); the lines it returns are notes.
    """
    name = check_name(name) if name is not None else default_name(manifest.root)
    if train_file(manifest.root, name).exists():
        raise UsageError(f"train {name!r} exists already (releases/{name}.json): give another --name")
    if rollout and env is None:
        raise UsageError("--to ENV is needed to roll the train out (or pass --no-rollout)")
    plan = plan_release(manifest, projects, env=env, jobs=jobs)
    if not plan.releases:
        why = "; ".join(f"{k}: {v}" for k, v in list(plan.unchanged.items())[:3])
        raise UsageError(f"nothing to release ({why})" if why else "nothing to release")
    if plan.blocked:
        raise WorkFailed(f"the contracts gate says no, nothing was tagged: {plan.blocked}")
    ready = preflight(manifest, plan.releases, jobs=jobs)
    client = _engines(manifest, [p for p in projects if p.name in {r.project for r in plan.releases}], env,
                      rollout=rollout, jobs=jobs)
    made = commit_releases(ready, train=name, date=today(), jobs=jobs)
    pushed = push_train(made, jobs=jobs, reporter=reporter)
    if not pushed.ok:
        return ApplyResult(name, plan, pushed, interrupted=pushed.interrupted)
    notes = list(after_push(made)) if after_push else []
    entries = {m.name: TrainEntry(m.name, str(m.ready.release.version),
                                  str(m.ready.release.current) if m.ready.release.current else None,
                                  m.commit, m.ready.release.tag, changelog=m.section) for m in made}
    train = Train(name, TrainState.RELEASED, now(), tuple(entries.values()), tuple(plan.order), env)
    result = ApplyResult(name, plan, pushed, notes=tuple(notes))
    try:
        result, train = _build(manifest, projects, train, result, client, registry=registry, jobs=jobs,
                               reporter=reporter)
        if rollout and train.state is TrainState.RELEASED:
            result, train = _roll_out(manifest, train, result, env or "", registry=registry, jobs=jobs,
                                      reporter=reporter)
    except KeyboardInterrupt:
        train = replace(train, state=TrainState.FAILED, failure="interrupted after the tags were pushed")
        result = replace(result, interrupted=True)
    if not rollout:
        train = replace(train, environment=None)
    file, commit, note = record_train(manifest.root, train)
    return replace(result, train=train, recorded=str(file), commit=commit,
                   notes=(*result.notes, *([note] if note else [])))


def _engines(manifest: Manifest, projects: Sequence[Project], env: str | None, *, rollout: bool, jobs: int) -> Any:
    """Part of the pre-flight: the engine that builds, and the environment's, must answer before anything is tagged.

    Returns the build engine's client (None when no project of the train has a Dockerfile).
    """
    from metarepo.images.engine import connect

    client = None
    if any(deployable(p) or (p.path / str(p.setting("context", ".")) / "Dockerfile").is_file() for p in projects):
        client = connect(pool=jobs + 2)
    if rollout and env is not None:
        from metarepo.images.release import environment_settings

        settings = environment_settings(env, manifest.environment(env))
        if settings.target != "kubernetes" or settings.docker_host:
            connect(settings.docker_host)
    return client


def _build(manifest: Manifest, projects: Sequence[Project], train: Train, result: ApplyResult, client: Any, *,
           registry: str | None, jobs: int, reporter: Reporter) -> tuple[ApplyResult, Train]:
    """Each train project's image, built once from its release commit and pushed."""
    from metarepo.images.build import build_images, plan_builds

    names = {e.project for e in train.entries}
    builds = plan_builds(manifest, [p for p in projects if p.name in names], registry=registry, jobs=jobs)
    failed = dict(builds.failed)
    built: dict[str, str] = {}
    entries = {e.project: e for e in train.entries}
    if builds.specs:
        if client is None:
            from metarepo.images.engine import connect

            client = connect(pool=jobs + 2)
        run = build_images(client, builds, log_dir=manifest.ensure_state_dir() / "builds", jobs=jobs, push=True,
                           reporter=reporter)
        if run.interrupted:
            raise KeyboardInterrupt
        for outcome in run.outcomes:
            if outcome.ok and outcome.value.digest:
                image = outcome.value.tags[0]
                entries[str(outcome.key)] = replace(entries[str(outcome.key)], image=image,
                                                    digest=outcome.value.digest)
                built[str(outcome.key)] = f"{image}@{outcome.value.digest}"
            elif outcome.ok:
                failed[str(outcome.key)] = "pushed, but the registry gave no digest"
            else:
                failed[str(outcome.key)] = outcome.reason
    train = replace(train, entries=tuple(entries[e.project] for e in train.entries))
    if failed:
        first = next(iter(failed.items()))
        train = replace(train, state=TrainState.FAILED,
                        failure=f"images not built: {first[0]}: {first[1]}" + (
                            f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""))
    return replace(result, built=built, build_failed=failed), train


def _roll_out(manifest: Manifest, train: Train, result: ApplyResult, env: str, *, registry: str | None, jobs: int,
              reporter: Reporter) -> tuple[ApplyResult, Train]:
    """The train's images to ENV, pinned to the digests just built, in the planner's order."""
    from metarepo.release.gates import rollout_gates
    from metarepo.images.pinned import Pin, open_pinned_target, plan_pinned_rollout
    from metarepo.images.release import RolloutFailed
    from metarepo.images.rollout import run_rollout

    pins = [Pin(e.project, e.image, e.digest, e.sha, e.version) for e in train.entries
            if e.image and e.digest and deployable(manifest.project(e.project))]
    if not pins:
        return replace(result, notes=(*result.notes, "nothing of this train is deployed (no images)")), train
    plan = plan_pinned_rollout(manifest, env, pins, order=train.order or None)
    try:
        plan, target = open_pinned_target(manifest.root, plan, jobs=jobs, reporter=reporter)
        rolled = run_rollout(manifest, plan, target, reporter=reporter, gates=rollout_gates(manifest, env))
    except (RolloutFailed, EngineUnavailable) as exc:
        return result, replace(train, state=TrainState.FAILED, failure=f"rollout to {env} did not start: {exc}")
    train = replace(train, order=tuple(r.project for r in plan.releases))
    if rolled.interrupted:
        return replace(result, rollout=rolled, interrupted=True), replace(
            train, state=TrainState.FAILED, failure=f"rollout to {env} interrupted and rolled back")
    if not rolled.ok:
        step = next((s for s in rolled.steps if s.state.value == "failed"), None)
        why = f"{step.project}: {step.detail}" if step else "a step failed"
        return replace(result, rollout=rolled), replace(
            train, state=TrainState.FAILED, failure=f"rollout to {env} failed and was rolled back ({why})")
    return replace(result, rollout=rolled), train
