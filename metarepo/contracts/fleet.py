"""The whole fleet's contracts and the Pact-style matrix of every (producer, consumer) pair.

``check_fleet`` compares every producer's schema (writer) with every
consumer's (reader) for every message. With ``against=REF``, each project's
contracts at REF (read from git) are its old version and its work tree the
new one, and every pair that can be live together during a rollout is
checked: new producer with old consumer, old producer with new consumer,
new with new (a combination that repeats another's schemas is left out).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

from metarepo.manifest import Manifest, Project
from metarepo.report import NULL, Reporter

from metarepo.contracts.compare import compare_schemas
from metarepo.contracts.matching import Link
from metarepo.contracts.model import STRICT, Compatibility, Contract, Message, Pair
from metarepo.contracts.sources import NoSuchCommit


@dataclass(frozen=True)
class CheckResult:
    pairs: tuple[Pair, ...]
    unpublished: tuple[tuple[Message, str], ...]  # (message, consumer): consumed, nobody publishes it (an error)
    unconsumed: tuple[tuple[Message, str], ...]  # (message, producer): published, nobody consumes it (a note)
    notes: tuple[str, ...] = ()

    @property
    def breaking(self) -> tuple[Pair, ...]:
        return tuple(p for p in self.pairs if p.state is Compatibility.BREAKING)

    @property
    def undecided(self) -> tuple[Pair, ...]:
        return tuple(p for p in self.pairs if p.state is Compatibility.UNDECIDED)

    @property
    def ok(self) -> bool:
        """Every pair compatible (an undecided one is not) and every consumed message published."""
        return all(p.compatible for p in self.pairs) and not self.unpublished


def project_contract(project: Project, ref: str | None = None, cache: Any = None) -> Contract:
    """One project's contract from its work tree, or from git at ``ref`` (kept in ``cache``, when given)."""
    from metarepo.contracts.loading import load_contract
    from metarepo.contracts.sources import GitTree, WorkTree

    configured = project.setting("contracts")
    if configured is not None and (not isinstance(configured, str) or not configured.strip()):
        from metarepo.errors import ManifestError

        raise ManifestError("must be the path of the project's contracts file (a string, relative to the project)",
                            file=".meta", key=f"metarepo.projects.{project.name}.contracts")
    source = WorkTree(project.path, project.name) if ref is None else GitTree(project.path, project.name, ref)
    if cache is None:
        return load_contract(source, project.name, configured)
    return cache.contract(source, project.name, configured,
                          lambda reads: load_contract(source, project.name, configured, reads=reads))


def load_fleet(projects: Sequence[Project], *, ref: str | None = None, jobs: int = 4,
               reporter: Reporter = NULL, cache: Any = None) -> tuple[dict[str, Contract], list[str]]:
    """Every cloned project's contract (in manifest order), and notes on the ones left out (and the
    notes of each contract). ``cache``: a ``cache.ContractCache`` to keep what was parsed in."""
    notes: list[str] = []
    present = []
    for project in projects:
        if project.present:
            present.append(project)
        else:
            notes.append(f"{project.name}: not cloned, left out (run `meta update`)")
    reporter.start(len(present), "contracts" if ref is None else f"contracts at {ref}")

    missing: list[NoSuchCommit] = []  # services that did not exist at REF: they have no old version
    new: list[str] = []

    def load(project: Project) -> Contract | None:
        reporter.item_started(project.name)
        try:
            contract = project_contract(project, ref, cache)
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
        from metarepo.errors import NotFoundError

        raise NotFoundError(f"no repository has a commit {ref!r}" if len(present) > 1 else missing[0].message,
                            hint="is the ref spelled right? run `meta update` or `meta git fetch` first")
    contracts = {c.service: c for c in loaded if c is not None}
    said = [note for c in contracts.values() for note in c.notes]
    return contracts, notes + said + sorted(new)


def pair_matrix(contracts: Mapping[str, Contract], *, policy: str = STRICT, old: Mapping[str, Contract] | None = None,
                old_label: str = "") -> CheckResult:
    """Every link of every message (and, given ``old``, every rollout combination), with its verdict."""
    from metarepo.contracts.matching import fleet_links

    combos: list[tuple[Link, str, str]] = [(link, "working tree", "working tree") for link in fleet_links(contracts)]
    if old is not None:
        combos += [(link, "working tree", old_label) for link in fleet_links(contracts, old)]
        combos += [(link, old_label, "working tree") for link in fleet_links(old, contracts)]
    pairs: list[Pair] = []
    seen: set[tuple] = set()
    for link, pv, cv in combos:
        key = (link.producer, link.sent, link.consumer, link.read, link.writer.digest, link.reader.digest)
        if key in seen:  # a combination that repeats another's schemas
            continue
        seen.add(key)
        pairs.append(link.pair(compare_schemas(link.writer, link.reader, policy), pv, cv))
    read, sent = set(), set()
    for link, pv, cv in combos:
        if pv == cv == "working tree":
            read.add((link.consumer, link.read))
            sent.add((link.producer, link.sent))
    unpublished = tuple(sorted((m, c.service) for c in contracts.values() for m in c.consumes
                               if (c.service, m) not in read))
    unconsumed = tuple(sorted((m, c.service) for c in contracts.values() for m in c.publishes
                              if (c.service, m) not in sent))
    pairs.sort(key=lambda pair: (pair.message, pair.producer, pair.consumer, pair.reader_message))
    return CheckResult(tuple(pairs), unpublished, unconsumed)


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    """A fleet's contracts are hundreds of thousands of objects that all live to the end: the cyclic
    collector, run again and again over a growing heap, only costs time here (a third of a cold check)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def check_fleet(manifest: Manifest, projects: Iterable[Project], *, against: str | None = None,
                policy: str = STRICT, jobs: int = 4, reporter: Reporter = NULL) -> CheckResult:
    """``meta contracts check``: the matrix for the selected projects' work trees (and ``against`` REF)."""
    from metarepo.contracts.cache import contracts_cache

    projects = list(projects)
    with contracts_cache(manifest) as cache, no_gc_pauses():
        contracts, notes = load_fleet(projects, jobs=jobs, reporter=reporter, cache=cache)
        old = None
        if against is not None:
            old, old_notes = load_fleet([p for p in projects if p.name in contracts], ref=against, jobs=jobs,
                                        reporter=reporter, cache=cache)
            notes.extend(old_notes)
        result = pair_matrix(contracts, policy=policy, old=old, old_label=against or "")
    return CheckResult(result.pairs, result.unpublished, result.unconsumed, tuple(notes))
