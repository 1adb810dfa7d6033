"""``meta rollout ENV``: the selected services, one at a time, in an order that never breaks a live pair.

1. ``plan_rollout`` (no engine): each service's image for its HEAD commit
   (``<registry>/<image>:<sha>``, the tag ``meta build`` gives it), the
   environment's settings, and the order: the contracts planner's when the
   services have contracts (a change with no safe order is refused before
   anything moves), else the manifest's.
2. ``resolve_images``: every image's digest asked of the registry, and its
   HEALTHCHECK, before anything changes; a missing image stops it there.
3. ``run_rollout``: ask every gate (``images/gates.py``) whether the rollout
   may start, then deploy each in turn through the target; once a service
   this run changed is live, ask the gates about it (one the target left as
   it was has nothing new to measure). On the first failure (a deploy, or a
   gate's verdict), or Ctrl-C, stop and roll back every service this run
   already changed, newest first; ``environments/ENV.json`` is left as it was. On
   success, record each service's image, digest, sha and version there and
   commit it in the meta repo.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, Sequence

from metarepo.errors import GitError, MetaError
from metarepo.manifest import Manifest, Project
from metarepo.report import NULL, Reporter
from metarepo.runner import run_parallel

from metarepo.images.gates import Gate, Measurement
from metarepo.images.release import (KUBERNETES, Applied, EnvironmentSettings, Release, RolloutFailed, Target,
                                     environment_settings, service_name)

class StepState(Enum):
    """Where one service of a rollout ended."""

    DEPLOYED = "deployed"
    UNCHANGED = "unchanged"  # it already ran this release
    FAILED = "failed"
    ROLLED_BACK = "rolled back"  # it went live, then a later failure put it back
    NOT_STARTED = "not started"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class RolloutPlan:
    settings: EnvironmentSettings
    releases: tuple[Release, ...]  # in deployment order
    skipped: Mapping[str, str]  # project -> why it is not part of this rollout
    order_from: str  # "contracts" or "manifest"
    notes: tuple[str, ...] = ()
    unresolved: str = ""  # why the images' digests are not known (no engine to ask the registry), if they are not


@dataclass(frozen=True)
class Step:
    project: str
    service: str
    state: StepState
    detail: str = ""
    seconds: float = 0.0
    measurements: tuple[Measurement, ...] = ()  # what the gates read once it was live

    def as_json(self) -> dict[str, Any]:
        return {"project": self.project, "service": self.service, "state": self.state.value,
                "detail": self.detail or None, "seconds": round(self.seconds, 3),
                "measurements": [m.as_json() for m in self.measurements]}


@dataclass(frozen=True)
class RolloutResult:
    plan: RolloutPlan
    steps: tuple[Step, ...]
    interrupted: bool = False
    recorded: str | None = None  # environments/ENV.json, when written
    commit: str | None = None  # the meta repo commit that records it
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(s.state in (StepState.DEPLOYED, StepState.UNCHANGED)
                                            for s in self.steps)


def plan_rollout(manifest: Manifest, env: str, projects: Sequence[Project], *, registry: str | None = None,
                 jobs: int = 4) -> RolloutPlan:
    """What ``meta rollout ENV`` would deploy, and in which order; reads git, asks no engine."""
    from metarepo.image_reference import image_repository
    from metarepo.images.dockerfile import DockerfileError, parse_dockerfile
    from metarepo.images.revision import read_revision

    settings = environment_settings(env, manifest.environment(env))
    skipped: dict[str, str] = {}
    candidates: list[Project] = []
    for project in projects:
        if project.setting("deploy", True) is False:
            skipped[project.name] = "not deployed (deploy: false)"
        elif not project.cloned:
            skipped[project.name] = "not cloned (run `meta update`)"
        elif not (project.path / project.setting("context", ".") / "Dockerfile").is_file() and not \
                project.setting("dockerfile"):
            skipped[project.name] = "no Dockerfile: nothing to deploy"
        else:
            candidates.append(project)
    by_name = {p.name: p for p in candidates}
    dirty: set[str] = set()

    def read(name: str) -> Release:
        project = by_name[name]
        revision = read_revision(project)
        if revision.dirty:
            dirty.add(name)
        health = None
        dockerfile = project.path / (project.setting("dockerfile") or Path(project.setting("context", ".")) /
                                     "Dockerfile")
        try:
            health = parse_dockerfile(dockerfile.read_text(encoding="utf-8", errors="replace")).healthcheck
        except (OSError, DockerfileError):
            pass
        port = project.setting("port")
        return Release(project=name, service=service_name(name, project.settings),
                       image=f"{image_repository(project, registry)}:{revision.sha}", sha=revision.sha,
                       version=revision.version, replicas=int(project.setting("replicas", settings.replicas)),
                       update=settings.update, timeout=settings.timeout, healthcheck=health,
                       port=port if isinstance(port, int) and not isinstance(port, bool) else None,
                       logging=settings.logging, settings=project.settings)

    run = run_parallel(list(by_name), read, jobs=jobs)
    releases: dict[str, Release] = {}
    notes: list[str] = []
    for outcome in run.outcomes:
        if outcome.ok:
            releases[str(outcome.key)] = outcome.value
            if str(outcome.key) in dirty:
                notes.append(f"{outcome.key}: the work tree has changes; this deploys its last commit "
                             f"({outcome.value.sha[:12]}), not them")
        elif isinstance(outcome.error, MetaError) and outcome.error.exit_code == 2:
            raise outcome.error
        else:
            skipped[str(outcome.key)] = f"cannot read its commit: {outcome.reason}"
    _check_networking(manifest, settings, list(releases.values()))
    _refuse_duplicates(releases.values())
    if settings.logging is not None and settings.target == KUBERNETES:
        notes.append(f"logging ({settings.logging.driver}) is not set per Deployment on Kubernetes: the cluster's "
                     "own log shipping (its node agent reading each container's stdout) applies")
    order, order_from = _order(manifest, env, list(releases))
    return RolloutPlan(settings, tuple(releases[n] for n in order), skipped, order_from, tuple(notes))


def _refuse_duplicates(releases: Any) -> None:
    from metarepo.errors import ManifestError

    seen: dict[str, str] = {}
    for release in releases:
        if release.service in seen:
            raise ManifestError(f"{release.project} and {seen[release.service]} would both be service "
                                f"{release.service!r}", key=f"metarepo.projects.{release.project}.service")
        seen[release.service] = release.project


def _check_networking(manifest: Manifest, settings: EnvironmentSettings, releases: list[Release]) -> None:
    """Routes, published ports and the proxy checked (bad input, exit 2) before any engine is asked."""
    from metarepo.proxy.settings import fleet_routes, proxy_of

    if proxy_of(settings.name, settings.raw) is not None:
        fleet_routes(manifest.projects)  # two projects claiming one host and path, anywhere in the fleet
    if settings.target == KUBERNETES:
        return
    from metarepo.images.swarm_network import check_networking, environment_networking
    from metarepo.images.swarm_tasks import node_engines_setting

    check_networking(releases, environment_networking(settings.name, settings.raw))
    node_engines_setting(settings.name, settings.raw)


def _order(manifest: Manifest, env: str, names: list[str]) -> tuple[list[str], str]:
    """The contracts planner's order when any of the services has contracts, else the manifest's."""
    if not names:
        return [], "manifest"
    from metarepo.contracts.fleet import project_contract
    from metarepo.contracts.plan import deploy_order

    if not any(project_contract(manifest.project(n)).files for n in names):
        return names, "manifest"
    return deploy_order(manifest, names, env), "contracts"


def resolve_images(client: Any, plan: RolloutPlan, *, jobs: int = 4) -> RolloutPlan:
    """Each release with its registry digest and HEALTHCHECK; ``RolloutFailed`` naming every missing image."""
    from docker.errors import APIError, NotFound

    from metarepo.images.engine import first_line
    from metarepo.images.swarm import healthcheck_from_image

    by_name = {r.project: r for r in plan.releases}

    def resolve(name: str) -> Release:
        release = by_name[name]
        try:
            digest = client.images.get_registry_data(release.image).id
        except (APIError, NotFound) as exc:
            raise RolloutFailed(f"{release.image}: not found in the registry ({first_line(exc)})") from None
        health = release.healthcheck
        try:
            health = healthcheck_from_image(client.api.inspect_image(release.image))
        except NotFound:
            pass  # not on this engine: the Dockerfile's HEALTHCHECK is the best we know
        return release.with_digest(digest, health)

    run = run_parallel(list(by_name), resolve, jobs=jobs)
    missing = [o.reason for o in run.outcomes if not o.ok]
    if run.interrupted:
        raise KeyboardInterrupt
    if missing:
        more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
        raise RolloutFailed(f"nothing was changed: {'; '.join(missing[:3])}{more}",
                            hint="build and push them first: meta build --push")
    return replace(plan, releases=tuple(o.value for o in run.outcomes))


def run_rollout(manifest: Manifest, plan: RolloutPlan, target: Target, *, reporter: Reporter = NULL,
                record: bool = True, gates: Sequence[Gate] = ()) -> RolloutResult:
    """Deploy ``plan`` through ``target``; all or nothing, as far as the target can put things back.

    Each gate's ``before`` runs first and may refuse the whole rollout
    (``RolloutFailed``, nothing changed); its ``after`` runs once each
    service is live, and a failed verdict fails that step like a failed
    deploy: the batch is rolled back.
    """
    for gate in gates:
        gate.before(plan)
    applied: list[Applied] = []
    steps: dict[str, Step] = {r.project: Step(r.project, r.service, StepState.NOT_STARTED) for r in plan.releases}
    interrupted = False
    failed = False
    reporter.start(len(plan.releases), f"rollout {plan.settings.name}")
    try:
        for release in plan.releases:
            reporter.item_started(release.project)
            t0 = time.monotonic()
            try:
                done = target.deploy(release)
            except RolloutFailed as exc:
                steps[release.project] = Step(release.project, release.service, StepState.FAILED, exc.message,
                                              time.monotonic() - t0)
                reporter.item_done(release.project, False, exc.message)
                failed = True
                break
            except Exception as exc:  # noqa: BLE001 - an engine error mid-rollout still rolls the rest back
                why = str(exc) if isinstance(exc, MetaError) else f"{type(exc).__name__}: {_first_line(exc)}"
                steps[release.project] = Step(release.project, release.service, StepState.FAILED, why,
                                              time.monotonic() - t0)
                reporter.item_done(release.project, False, why)
                failed = True
                break
            applied.append(done)
            state = StepState.DEPLOYED if done.changed else StepState.UNCHANGED
            # A service the target left as it was already ran this release: there is nothing new to measure,
            # and its alerts are not this rollout's to answer for.
            measurements, refused = _ask_gates(gates, release, reporter) if done.changed else ((), "")
            seconds = time.monotonic() - t0
            if refused:
                steps[release.project] = Step(release.project, release.service, StepState.FAILED, refused,
                                              seconds, measurements)
                reporter.item_done(release.project, False, refused)
                failed = True
                break
            steps[release.project] = Step(release.project, release.service, state, done.note or _shown(release),
                                          seconds if gates and done.changed else done.seconds, measurements)
            reporter.item_done(release.project, True, state.value)
    except KeyboardInterrupt:
        interrupted = True
        in_flight = getattr(target, "in_flight", None)
        if in_flight is not None:
            applied.append(in_flight)
            steps[in_flight.release.project] = Step(in_flight.release.project, in_flight.release.service,
                                                    StepState.INTERRUPTED, "interrupted while it was being deployed")
    finally:
        reporter.finish()
    if failed or interrupted:
        _roll_back_all(target, applied, steps, reporter)
        return RolloutResult(plan, tuple(steps[r.project] for r in plan.releases), interrupted)
    recorded = commit = None
    notes: list[str] = []
    if record and plan.releases:
        recorded, commit, note = record_rollout(manifest, plan)
        if note:
            notes.append(note)
    return RolloutResult(plan, tuple(steps[r.project] for r in plan.releases), False, recorded, commit,
                         tuple(notes))


def _ask_gates(gates: Sequence[Gate], release: Release, reporter: Reporter) -> tuple[tuple[Measurement, ...], str]:
    """Every gate's measurements of a live ``release``, and why the first that said no did (or "")."""
    measurements: list[Measurement] = []
    for gate in gates:
        verdict = gate.after(release, reporter)
        measurements.extend(verdict.measurements)
        if not verdict.ok:
            return tuple(measurements), f"{gate.name}: {verdict.reason}"
    return tuple(measurements), ""


def _roll_back_all(target: Target, applied: list[Applied], steps: dict[str, Step], reporter: Reporter) -> None:
    """Newest first. A second Ctrl-C stops it; what was not put back says so."""
    pending = [a for a in reversed(applied) if a.changed or a.created]
    for n, done in enumerate(pending):
        release = done.release
        try:
            reporter.note(f"{release.service}: rolling back")
            what = target.roll_back(done)
        except KeyboardInterrupt:
            for left in pending[n:]:
                old = steps[left.release.project]
                steps[left.release.project] = replace(old, detail=f"{old.detail}; NOT rolled back "
                                                      "(interrupted): check it by hand".lstrip("; "))
            return
        except MetaError as exc:
            what = f"rollback failed: {exc}"
        except Exception as exc:  # noqa: BLE001 - one service's rollback must not stop the others'
            what = f"rollback failed: {exc}"
        old = steps[release.project]
        if old.state is StepState.FAILED:
            steps[release.project] = replace(old, detail=f"{old.detail}; {what}")
        else:
            shown = what if old.state is not StepState.INTERRUPTED else f"interrupted; {what}"
            steps[release.project] = replace(old, state=StepState.ROLLED_BACK, detail=shown)


def _first_line(exc: BaseException) -> str:
    from metarepo.images.engine import first_line

    return first_line(exc)


def _shown(release: Release) -> str:
    from metarepo.image_reference import short_reference

    return short_reference(release.image) + (f" ({release.version})" if release.version else "")


def record_rollout(manifest: Manifest, plan: RolloutPlan) -> tuple[str, str | None, str | None]:
    """Write ``environments/ENV.json`` and commit it in the meta repo; (file, commit sha, note)."""
    from metarepo.environments import Deployment, record_deployments

    file = record_deployments(manifest.root, plan.settings.name, [
        Deployment(service=r.project, sha=r.sha, version=r.version, image=r.image, digest=r.digest)
        for r in plan.releases])
    try:
        commit = commit_record(manifest.root, file, plan)
    except GitError as exc:
        return str(file), None, f"{file.name} written but not committed: {exc.message}"
    return str(file), commit, None


def commit_record(root: Path, file: Path, plan: RolloutPlan) -> str | None:
    """Commit ``file`` alone (other staged work is left staged); None when the meta repo is not a git repo."""
    from metarepo.git import commit_one_file

    names = ", ".join(f"{Path(r.project).name}@{r.sha[:8]}" for r in plan.releases[:6])
    more = f" and {len(plan.releases) - 6} more" if len(plan.releases) > 6 else ""
    return commit_one_file(root, file, f"rollout {plan.settings.name}: {names}{more}")
