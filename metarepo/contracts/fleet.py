"""The whole fleet's contracts and the Pact-style matrix of every (producer, consumer) pair.

``check_fleet`` compares every producer's schema (writer) with every
consumer's (reader) for every message. With ``against=REF``, each project's
contracts at REF (read from git) are its old version and its work tree the
new one, and every pair that can be live together during a rollout is
checked: new producer with old consumer, old producer with new consumer,
new with new (a combination that repeats another's schemas is left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from metarepo.manifest import Manifest, Project
from metarepo.report import NULL, Reporter

from metarepo.contracts.compare import compare_schemas
from metarepo.contracts.model import STRICT, Contract, Pair, Schema
from metarepo.contracts.sources import NoSuchCommit


@dataclass(frozen=True)
class CheckResult:
    pairs: tuple[Pair, ...]
    unpublished: tuple[tuple[str, str], ...]  # (message, consumer): consumed, nobody publishes it (an error)
    unconsumed: tuple[tuple[str, str], ...]  # (message, producer): published, nobody consumes it (a note)
    notes: tuple[str, ...] = ()

    @property
    def breaking(self) -> tuple[Pair, ...]:
        return tuple(p for p in self.pairs if not p.compatible)

    @property
    def ok(self) -> bool:
        return not self.breaking and not self.unpublished


def project_contract(project: Project, ref: str | None = None) -> Contract:
    """One project's contract from its work tree, or from git at ``ref``."""
    from metarepo.contracts.loading import load_contract
    from metarepo.contracts.sources import GitTree, WorkTree

    configured = project.setting("contracts")
    if configured is not None and (not isinstance(configured, str) or not configured.strip()):
        from metarepo.errors import ManifestError

        raise ManifestError("must be the path of the project's contracts file (a string, relative to the project)",
                            file=".meta", key=f"metarepo.projects.{project.name}.contracts")
    source = WorkTree(project.path, project.name) if ref is None else GitTree(project.path, project.name, ref)
    return load_contract(source, project.name, configured)


def load_fleet(projects: Sequence[Project], *, ref: str | None = None, jobs: int = 4,
               reporter: Reporter = NULL) -> tuple[dict[str, Contract], list[str]]:
    """Every cloned project's contract (in manifest order), and notes on the ones left out."""
    notes: list[str] = []
    present = []
    for project in projects:
        if project.cloned:
            present.append(project)
        else:
            notes.append(f"{project.name}: not cloned, left out (run `meta update`)")
    reporter.start(len(present), "contracts" if ref is None else f"contracts at {ref}")

    missing: list[NoSuchCommit] = []  # services that did not exist at REF: they have no old version
    new: list[str] = []

    def load(project: Project) -> Contract | None:
        reporter.item_started(project.name)
        try:
            contract = project_contract(project, ref)
        except NoSuchCommit as exc:
            missing.append(exc)
            new.append(f"{project.name}: no commit {ref!r}, checked as a new service (no old version)")
            reporter.item_done(project.name, False, exc.message)
            return None
        reporter.item_done(project.name, True)
        return contract

    try:
        if ref is None:
            loaded = [load(p) for p in present]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # git processes: threads overlap them
                loaded = list(pool.map(load, present))
    finally:
        reporter.finish()
    if missing and len(missing) == len(present):  # a ref that no repo has is a mistyped ref, not a new fleet
        raise missing[0]
    return {c.service: c for c in loaded if c is not None}, notes + sorted(new)


def _sides(contracts: Mapping[str, Contract]) -> tuple[dict[str, dict[str, Schema]], dict[str, dict[str, Schema]]]:
    producers: dict[str, dict[str, Schema]] = {}
    consumers: dict[str, dict[str, Schema]] = {}
    for service, contract in contracts.items():
        for message, schema in contract.publishes.items():
            producers.setdefault(message, {})[service] = schema
        for message, schema in contract.consumes.items():
            consumers.setdefault(message, {})[service] = schema
    return producers, consumers


def pair_matrix(contracts: Mapping[str, Contract], *, policy: str = STRICT, old: Mapping[str, Contract] | None = None,
                old_label: str = "") -> CheckResult:
    """Every pair of every message (and, given ``old``, every rollout combination)."""
    producers, consumers = _sides(contracts)
    old_producers, old_consumers = _sides(old) if old is not None else ({}, {})
    pairs: list[Pair] = []
    for message in sorted(set(producers) | set(consumers) | set(old_producers) | set(old_consumers)):
        seen: set[tuple[str, str, str, str]] = set()
        combos: list[tuple[str, Schema, str, str, Schema, str]] = []
        new_p, new_c = producers.get(message, {}), consumers.get(message, {})
        old_p, old_c = old_producers.get(message, {}), old_consumers.get(message, {})
        for p, ps in new_p.items():
            for c, cs in new_c.items():
                combos.append((p, ps, "working tree", c, cs, "working tree"))
        for p, ps in new_p.items():
            for c, cs in old_c.items():
                combos.append((p, ps, "working tree", c, cs, old_label))
        for p, ps in old_p.items():
            for c, cs in new_c.items():
                combos.append((p, ps, old_label, c, cs, "working tree"))
        for p, ps, pv, c, cs, cv in combos:
            key = (p, c, ps.digest, cs.digest)
            if key in seen:
                continue
            seen.add(key)
            pairs.append(Pair(message, p, c, compare_schemas(ps, cs, policy), pv, cv))
    unpublished = tuple((m, c) for m in sorted(consumers) for c in consumers[m] if not producers.get(m))
    unconsumed = tuple((m, p) for m in sorted(producers) for p in producers[m] if not consumers.get(m))
    pairs.sort(key=lambda pair: (pair.message, pair.producer, pair.consumer))
    return CheckResult(tuple(pairs), unpublished, unconsumed)


def check_fleet(manifest: Manifest, projects: Iterable[Project], *, against: str | None = None,
                policy: str = STRICT, jobs: int = 4, reporter: Reporter = NULL) -> CheckResult:
    """``meta contracts check``: the matrix for the selected projects' work trees (and ``against`` REF)."""
    projects = list(projects)
    contracts, notes = load_fleet(projects, jobs=jobs, reporter=reporter)
    old = None
    if against is not None:
        old, old_notes = load_fleet([p for p in projects if p.name in contracts], ref=against, jobs=jobs,
                                    reporter=reporter)
        notes.extend(old_notes)
    result = pair_matrix(contracts, policy=policy, old=old, old_label=against or "")
    return CheckResult(result.pairs, result.unpublished, result.unconsumed, tuple(notes))
