"""Rollouts of images pinned by digest: a release train's recorded images, promoted or rolled back.

``meta rollout`` deploys each service's image for its HEAD commit and asks
the registry for its digest. A train has already recorded its digests, so
``plan_pinned_rollout`` makes the same ``RolloutPlan`` from them (nothing is
read from HEAD, nothing rebuilt), in the contracts planner's order over the
recorded commits or an order given. ``open_pinned_target`` asks the
registry for every image by its digest before anything moves: one that is
no longer there refuses the rollout, naming it. The plan then goes through
``run_rollout`` like any other, gates and all-or-nothing rollback included.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from metarepo.manifest import Manifest
from metarepo.report import NULL, Reporter
from metarepo.runner import run_parallel

from metarepo.images.release import Healthcheck, Release, RolloutFailed, Target, environment_settings, service_name
from metarepo.images.rollout import RolloutPlan, _refuse_duplicates


@dataclass(frozen=True)
class Pin:
    """One service's image exactly as recorded: by tag and digest, at a commit and version."""

    project: str
    image: str  # repository:tag
    digest: str
    sha: str
    version: str | None = None


def _healthcheck_at(manifest: Manifest, pin: Pin) -> Healthcheck | None:
    """The HEALTHCHECK of the Dockerfile at the recorded commit (the image's own, if the engine has it, wins)."""
    from metarepo.git import run_git
    from metarepo.images.dockerfile import DockerfileError, parse_dockerfile

    project = manifest.project(pin.project)
    if not project.cloned:
        return None
    name = str(project.setting("dockerfile") or Path(str(project.setting("context", "."))) / "Dockerfile")
    shown = run_git(["show", f"{pin.sha}:{Path(name).as_posix()}"], cwd=project.path, check=False)
    if shown.returncode != 0:
        return None
    try:
        return parse_dockerfile(shown.stdout).healthcheck
    except DockerfileError:
        return None


def plan_pinned_rollout(manifest: Manifest, env: str, pins: Sequence[Pin], *,
                        order: Sequence[str] | None = None) -> RolloutPlan:
    """A rollout of exactly ``pins`` to ``env``; in ``order`` when given, else the contracts planner's."""
    settings = environment_settings(env, manifest.environment(env))
    releases: dict[str, Release] = {}
    for pin in pins:
        project = manifest.project(pin.project)
        port = project.setting("port")
        releases[project.name] = Release(
            project=project.name, service=service_name(project.name, project.settings), image=pin.image,
            sha=pin.sha, version=pin.version, replicas=int(project.setting("replicas", settings.replicas)),
            update=settings.update, timeout=settings.timeout, digest=pin.digest,
            healthcheck=_healthcheck_at(manifest, pin),
            port=port if isinstance(port, int) and not isinstance(port, bool) else None, settings=project.settings)
    _refuse_duplicates(releases.values())
    if order is not None:
        names, order_from = [manifest.project(n).name for n in order if manifest.project(n).name in releases], "train"
    else:
        names, order_from = _planned(manifest, env, {n: r.sha for n, r in releases.items()})
    return RolloutPlan(settings, tuple(releases[n] for n in names), {}, order_from)


def _planned(manifest: Manifest, env: str, shas: dict[str, str]) -> tuple[list[str], str]:
    from metarepo.contracts.fleet import project_contract
    from metarepo.contracts.plan import deploy_order

    names = [p.name for p in manifest.projects if p.name in shas]
    if not any(project_contract(manifest.project(n), shas[n]).files for n in names):
        return names, "manifest"
    return deploy_order(manifest, names, env, at=shas), "contracts"


def open_pinned_target(meta_root: Path, plan: RolloutPlan, *, jobs: int = 4,
                       reporter: Reporter = NULL) -> tuple[RolloutPlan, Target]:
    """The environment's target, once the registry has shown it still holds every pinned image.

    It needs an engine to ask the registry (``EngineUnavailable`` otherwise):
    a promotion that cannot prove its images exist does not start.
    """
    from metarepo.images.engine import connect

    client = connect(plan.settings.docker_host)
    plan = verify_pinned(client, plan, jobs=jobs)
    if plan.settings.target == "kubernetes":
        from metarepo.images.kubernetes import KubernetesTarget

        return plan, KubernetesTarget(plan.settings, meta_root, reporter=reporter)
    from metarepo.images.swarm import SwarmTarget

    return plan, SwarmTarget(client, reporter=reporter)


def verify_pinned(client: Any, plan: RolloutPlan, *, jobs: int = 4) -> RolloutPlan:
    """Each release's digest asked of the registry; ``RolloutFailed`` naming every image that is gone."""
    from docker.errors import APIError, NotFound

    from metarepo.image_reference import split_reference
    from metarepo.images.engine import first_line
    from metarepo.images.swarm import healthcheck_from_image

    by_name = {r.project: r for r in plan.releases}

    def check(name: str) -> Release:
        release = by_name[name]
        repository = split_reference(release.image).repository
        try:
            found = client.images.get_registry_data(f"{repository}@{release.digest}").id
        except (APIError, NotFound) as exc:
            raise RolloutFailed(f"{repository}@{release.digest}: no longer in the registry ({first_line(exc)})"
                                ) from None
        if found != release.digest:
            raise RolloutFailed(f"{repository}@{release.digest}: the registry answers with {found}")
        health = release.healthcheck
        try:
            health = healthcheck_from_image(client.api.inspect_image(release.pinned)) or health
        except (APIError, NotFound):
            pass
        return replace(release, healthcheck=health)

    run = run_parallel(list(by_name), check, jobs=jobs)
    if run.interrupted:
        raise KeyboardInterrupt
    missing = [o.reason for o in run.outcomes if not o.ok]
    if missing:
        more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
        raise RolloutFailed(f"nothing was changed: {'; '.join(missing[:3])}{more}",
                            hint="a train's images must stay in the registry while it may be promoted or "
                                 "rolled back to")
    return replace(plan, releases=tuple(o.value for o in run.outcomes))
