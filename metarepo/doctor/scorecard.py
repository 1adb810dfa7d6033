"""``meta doctor``: every selected repository's checks, read from the repositories and the manifest.

The work, so that 2,000 repositories cost about what ``meta status`` does:

1. each repository's own files (its Dockerfile and the scripts it starts,
   its remote's refs) are read in parallel through the runner, no process
   started;
2. the pipelines are compared with the templates in one ``meta ci check``
   pass (validation remembered by content);
3. the fleet's contracts are read once, through the contracts cache, and
   the compatibility matrix computed once;
4. the meta repo's own checks, if any, run through the runner in every
   repository.
"""

from __future__ import annotations

import time
from typing import Sequence

from metarepo.doctor import checks as builtin
from metarepo.doctor import settings
from metarepo.doctor.custom import custom_checks, run_custom
from metarepo.doctor.model import GROUPS, Card, Check, Result, Scorecard, not_applicable
from metarepo.errors import Interrupted, MetaError
from metarepo.manifest import Manifest, Project
from metarepo.report import NULL, Reporter


def fleet_facts(manifest: Manifest) -> builtin.Fleet:
    from metarepo.image_reference import image_repository, normalize_repository

    images = set()
    for project in manifest.projects:
        try:
            images.add(normalize_repository(image_repository(project)))
        except MetaError:
            pass  # a bad image name is `meta build`'s to refuse
    return builtin.Fleet(frozenset(images), settings.environment_setting(manifest, "logging"),
                         settings.environment_setting(manifest, "broker"))


def run_doctor(manifest: Manifest, projects: Sequence[Project], *, jobs: int,
               reporter: Reporter = NULL) -> Scorecard:
    """The scorecard of ``projects``; a malformed custom check is a ``ManifestError`` before anything runs."""
    from metarepo.doctor.delivery import pipeline_results
    from metarepo.doctor.fleet_contracts import contract_results
    from metarepo.doctor.image import read_image
    from metarepo.doctor.repository import remote_refs
    from metarepo.runner import run_parallel
    from metarepo.workspace.execute import require_clone

    started = time.monotonic()
    customs = custom_checks(manifest, builtin.BUILTIN)
    all_checks = _in_group_order((*builtin.BUILTIN, *(c.check for c in customs)))
    fleet = fleet_facts(manifest)
    by_name = {p.name: p for p in projects}

    def read(name: str):
        project = by_name[name]
        require_clone(project)
        return read_image(project), remote_refs(project.path)

    run = run_parallel(list(by_name), read, jobs=jobs, reporter=reporter)
    if run.interrupted:
        raise Interrupted("interrupted: no scorecard")
    facts = {str(o.key): o.value for o in run.outcomes if o.ok}
    unread = {str(o.key): o.reason or str(o.state) for o in run.outcomes if not o.ok}
    cloned = [p for p in projects if p.name in facts]

    delivery = pipeline_results(manifest, cloned, {name: refs.default for name, (_, refs) in facts.items()})
    contracts = contract_results(manifest, cloned)
    custom = run_custom(manifest, cloned, customs, jobs=jobs, reporter=reporter) if customs and cloned else {}

    cards = []
    for project in projects:
        if project.name in unread:
            why = unread[project.name]
            cards.append(Card(project.name, tuple(not_applicable(c, why) for c in all_checks), cloned=False))
            continue
        image, refs = facts[project.name]
        found: dict[str, Result] = {}
        for result in (*builtin.containerised(project, image, fleet), delivery[project.name],
                       *contracts.results.get(project.name, ()), *builtin.proxy(project),
                       *builtin.monitoring(project), *builtin.logging(project, image, fleet),
                       builtin.broker(project, fleet, contracts.has_messages.get(project.name, False)),
                       *builtin.meta(project, refs)):
            found[result.check] = result
        for check in customs:
            found[check.check.id] = custom[(project.name, check.check.id)]
        cards.append(Card(project.name, tuple(found.get(c.id) or not_applicable(c, "not asked") for c in all_checks)))
    notes = [f"{name}: {why}" for name, why in unread.items()]
    return Scorecard(all_checks, tuple(cards), tuple(notes), time.monotonic() - started)


def _in_group_order(checks: Sequence[Check]) -> tuple[Check, ...]:
    """Checks grouped: the architecture's groups in order, each with its custom checks last, then new groups."""
    groups: dict[str, list[Check]] = {g: [] for g in GROUPS}
    for check in checks:
        groups.setdefault(check.group, []).append(check)
    return tuple(c for members in groups.values() for c in members)
