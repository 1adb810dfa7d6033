"""Where an environment's rollout goes, and what a dry run of it shows.

``open_target`` reaches the environment's platform: a Swarm manager through
the Docker engine, or a Kubernetes cluster through kubectl (and the Docker
engine, when one answers, only to ask the registry for digests). It resolves
every image's digest when it can. A dry run needs neither: without an
engine the plan records why the digests are unknown, and the Swarm target
can still say what spec it would apply.

``preview_rollout`` is what ``meta rollout ENV --dry-run`` shows, the same
way for both platforms: for each release the spec or manifests it would
apply, the action (create, update, unchanged) when the platform could be
asked, and what could not be found out, with why (``Unknown``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from metarepo.errors import EngineUnavailable
from metarepo.report import NULL, Reporter

from metarepo.images.release import KUBERNETES, Preview, Target, Unknown
from metarepo.images.rollout import RolloutPlan, resolve_images


def open_target(meta_root: Path, plan: RolloutPlan, *, dry_run: bool = False, jobs: int = 4,
                reporter: Reporter = NULL) -> tuple[RolloutPlan, Target]:
    """The target for ``plan``'s environment, and the plan with each image's digest (or why not).

    A Swarm rollout needs its engine: ``EngineUnavailable`` unless this is a
    dry run. A Kubernetes rollout without one deploys by tag (the cluster
    pulls it), and says so in the plan's notes.
    """
    from metarepo.images.engine import connect

    settings = plan.settings
    client, unreachable = None, ""
    try:
        client = connect(settings.docker_host)
    except EngineUnavailable as exc:
        if settings.target != KUBERNETES and not dry_run:
            raise
        unreachable = exc.message
    if settings.target == KUBERNETES:
        from metarepo.images.kubernetes import KubernetesTarget

        target: Target = KubernetesTarget(settings, meta_root, reporter=reporter)
    else:
        from metarepo.images.swarm import SwarmTarget
        from metarepo.images.swarm_network import environment_networking
        from metarepo.images.swarm_tasks import node_engines_setting

        target = SwarmTarget(client, reporter=reporter, unreachable=unreachable,
                             networking=environment_networking(settings.name, settings.raw),
                             nodes=node_engines_setting(settings.name, settings.raw))
    if client is not None:
        return resolve_images(client, plan, jobs=jobs), target
    notes = plan.notes if dry_run else (*plan.notes, f"deploying each image by tag: its digest could not be asked "
                                                     f"({unreachable})")
    return replace(plan, unresolved=unreachable, notes=notes), target


def preview_rollout(plan: RolloutPlan, target: Target) -> tuple[Preview, ...]:
    """What deploying each release of ``plan`` would do, changing nothing."""
    previews = []
    for release in plan.releases:
        preview = target.preview(release)
        if release.digest is None and plan.unresolved:
            preview = replace(preview, not_known=(*preview.not_known, (Unknown.DIGEST, plan.unresolved)))
        previews.append(preview)
    return tuple(previews)
