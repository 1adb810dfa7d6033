"""What each environment runs, and whether one service can join it: ``record-deployment``, ``can-i-deploy``.

The state lives in ``environments/ENV.json`` in the meta repo (see
``metarepo.environments``): service to git sha, version, image and time. A
counterpart's contracts are read from git at the sha deployed in ENV, in
that project's clone.

A counterpart with no record in ENV is not running there, so no deploy can
break it: a producer whose consumers are not deployed is safe to deploy (each
consumer is checked against it when it deploys), and a consumer whose
producers are not deployed reads nothing yet (each producer is checked
against it when it deploys). So a new fleet's first deploys pass, one
service at a time, and the gate still holds from the second on. "unknown"
is for what exists but cannot be read: a record whose project is not cloned
here, contracts that do not load at the recorded sha, a pair that cannot be
decided within the limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from metarepo.environments import Deployment, read_deployments, record_deployments
from metarepo.errors import MetaError, UsageError
from metarepo.manifest import Manifest, Project

from metarepo.contracts.compare import compare_schemas
from metarepo.contracts.matching import Link, links
from metarepo.contracts.model import STRICT, Compatibility, Contract, Pair


class Answer(str, Enum):
    """can-i-deploy's answer. ``UNKNOWN``: a counterpart's contracts could not be read, or a pair could not be
    decided within the limits; like ``NO``, it is not a yes."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


YES, NO, UNKNOWN = Answer.YES, Answer.NO, Answer.UNKNOWN


def resolve_commit(project: Project, rev: str) -> str:
    """The full sha of ``rev`` in ``project``'s clone (a bad or unknown rev is bad input)."""
    from metarepo.git import run_git

    if not rev or rev.startswith("-") or any(c in rev for c in "\0\n "):
        raise UsageError(f"invalid git revision {rev!r}")
    if not project.cloned:
        raise UsageError(f"{project.name} is not cloned here (run `meta update`)")
    proc = run_git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=project.path, check=False)
    if proc.returncode != 0:
        raise UsageError(f"{project.name}: no commit {rev!r}", hint="fetch it first: meta git fetch")
    return proc.stdout.strip()


def record_deployment(manifest: Manifest, service: str, env: str, sha: str, version: str | None = None,
                      image: str | None = None) -> tuple[Path, Deployment]:
    """Record that ``service`` at ``sha`` now runs in ``env``; returns the file written and the record."""
    manifest.environment(env)
    project = manifest.project(service)
    deployment = Deployment(service=project.name, sha=resolve_commit(project, sha), version=version, image=image)
    file = record_deployments(manifest.root, env, [deployment])
    return file, read_deployments(manifest.root, env)[project.name]


@dataclass(frozen=True)
class Deployability:
    service: str
    env: str
    answer: Answer
    pairs: tuple[Pair, ...]
    unknown: tuple[tuple[str, str], ...]  # (counterpart, why)
    not_deployed: tuple[str, ...] = ()  # counterparts with no record in env: nothing of theirs runs there to break


def deployed_contracts(manifest: Manifest, env: str, skip: tuple[str, ...] = ()
                       ) -> tuple[dict[str, Contract], dict[str, str]]:
    """Each recorded service's contracts at its deployed sha; and why some recorded ones could not be read.

    A service with no record is in neither: nothing of it runs in ``env``.
    """
    from metarepo.contracts.fleet import project_contract

    records = read_deployments(manifest.root, env)
    contracts: dict[str, Contract] = {}
    problems: dict[str, str] = {}
    for project in manifest.projects:
        if project.name in skip:
            continue
        record = records.get(project.name)
        if record is None:
            continue
        if not project.cloned:
            problems[project.name] = "not cloned here (run `meta update`)"
            continue
        try:
            contracts[project.name] = project_contract(project, record.sha)
        except MetaError as exc:
            problems[project.name] = f"cannot read its contracts at {record.sha[:12]}: {exc}"
    return contracts, problems


def counterparts(mine: Contract, others: dict[str, Contract]) -> list[Link]:
    """Every link ``mine`` takes part in: with each other service (both ways) and with itself."""
    found = []
    for other in others.values():
        found += links(mine, other)
        found += links(other, mine)
    found += links(mine, mine)  # a service that reads its own messages
    return found


def counterpart_pairs(mine: Contract, others: dict[str, Contract], policy: str,
                      my_version: str = "working tree", their_version: str = "deployed") -> list[Pair]:
    """``mine`` against every counterpart: as writer of what it publishes, reader of what it consumes."""
    return [link.pair(compare_schemas(link.writer, link.reader, policy),
                      my_version if link.producer == mine.service else their_version,
                      my_version if link.consumer == mine.service else their_version)
            for link in counterparts(mine, others)]


def side_by_side(new: Contract, old: Contract, policy: str, new_version: str, old_version: str) -> list[Pair]:
    """While a service rolls out, its old and new instances run together and read each other's messages.

    For every message one version sends and the other reads (by its name:
    a service that reads its own events, or one that starts sending what it
    used to only read), what each version sends must fit what the other reads.
    """
    pairs = []
    for writer, wv, reader, rv in ((new, new_version, old, old_version), (old, old_version, new, new_version)):
        for link in links(writer, reader, same_service=True):
            pairs.append(link.pair(compare_schemas(link.writer, link.reader, policy), wv, rv))
    return pairs


def can_i_deploy(manifest: Manifest, service: str, env: str, *, ref: str | None = None,
                 policy: str = STRICT) -> Deployability:
    """SERVICE at REF (default: its work tree) against every counterpart deployed in ENV."""
    from metarepo.contracts.fleet import project_contract

    manifest.environment(env)
    project = manifest.project(service)
    if not project.cloned:
        raise UsageError(f"{project.name} is not cloned here (run `meta update`)")
    mine = project_contract(project, ref)
    version = ref or "working tree"
    deployed, problems = deployed_contracts(manifest, env, skip=(project.name,))
    pairs = counterpart_pairs(mine, deployed, policy, version, f"{env}")
    unknown: list[tuple[str, str]] = []
    records = read_deployments(manifest.root, env)
    record = records.get(project.name)
    if record is not None:  # its running instances meet the new ones during the rollout
        try:
            running = project_contract(project, record.sha)
        except MetaError as exc:  # matters for certain only when it reads its own messages
            if links(mine, mine):
                unknown.append((project.name, f"its own contracts at {record.sha[:12]}, which run beside the "
                                              f"new ones during the rollout, do not load: {exc}"))
        else:
            pairs += side_by_side(mine, running, policy, version, env)
    unknown += _unreadable_counterparts(manifest, mine, problems)
    not_deployed = _not_deployed_counterparts(manifest, mine, env, records)
    undecided = [p for p in pairs if p.state is Compatibility.UNDECIDED]
    for pair in undecided:
        unknown.append((pair.consumer if pair.producer == project.name else pair.producer,
                        f"{pair.message.label}: could not decide within the limits"))
    answer = NO if any(p.state is Compatibility.BREAKING for p in pairs) else UNKNOWN if unknown else YES
    return Deployability(project.name, env, answer, tuple(pairs), tuple(unknown), not_deployed)


def _unreadable_counterparts(manifest: Manifest, mine: Contract, problems: dict[str, str]) -> list[tuple[str, str]]:
    """Of the recorded services whose deployed contracts cannot be read, those that may talk to ``mine``.

    One that is not cloned here cannot be told apart, so it counts; a clone
    whose work tree has no link with ``mine`` does not.
    """
    from metarepo.contracts.fleet import project_contract

    unknown = []
    for name, why in problems.items():
        other = manifest.project(name)
        if not other.cloned:
            unknown.append((name, why))
            continue
        try:
            theirs = project_contract(other)
        except MetaError as exc:
            unknown.append((name, f"{why}; and its contracts do not load: {exc}"))
            continue
        if links(mine, theirs) or links(theirs, mine):
            unknown.append((name, why))
    return unknown


def _not_deployed_counterparts(manifest: Manifest, mine: Contract, env: str, records: dict[str, Deployment]
                               ) -> tuple[str, ...]:
    """The services ``mine`` would talk to (by their work trees) that have no record in ``env``: told, not checked.

    Best effort, for the answer's notes only: one that is not cloned or whose
    contracts do not load is left out, since nothing of it runs in ``env``.
    """
    from metarepo.contracts.fleet import project_contract

    found = []
    for other in manifest.projects:
        if other.name == mine.service or other.name in records or not other.cloned:
            continue
        try:
            theirs = project_contract(other)
        except MetaError:
            continue
        if links(mine, theirs) or links(theirs, mine):
            found.append(other.name)
    return tuple(found)
