"""What each environment runs, and whether one service can join it: ``record-deployment``, ``can-i-deploy``.

The state lives in ``environments/ENV.json`` in the meta repo (see
``metarepo.environments``): service to git sha, version, image and time. A
counterpart's contracts are read from git at the sha deployed in ENV, in
that project's clone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from metarepo.environments import Deployment, read_deployments, record_deployments
from metarepo.errors import MetaError, UsageError
from metarepo.manifest import Manifest, Project

from metarepo.contracts.compare import compare_schemas
from metarepo.contracts.model import STRICT, Contract, Pair, Schema

YES, NO, UNKNOWN = "yes", "no", "unknown"


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
    answer: str  # yes | no | unknown
    pairs: tuple[Pair, ...]
    unknown: tuple[tuple[str, str], ...]  # (counterpart, why)


def deployed_contracts(manifest: Manifest, env: str, skip: tuple[str, ...] = ()
                       ) -> tuple[dict[str, Contract], dict[str, str]]:
    """Each recorded service's contracts at its deployed sha; and why some could not be read."""
    from metarepo.contracts.fleet import project_contract

    records = read_deployments(manifest.root, env)
    contracts: dict[str, Contract] = {}
    problems: dict[str, str] = {}
    for project in manifest.projects:
        if project.name in skip:
            continue
        record = records.get(project.name)
        if record is None:
            problems[project.name] = f"no deployment recorded in {env}"
            continue
        if not project.cloned:
            problems[project.name] = "not cloned here (run `meta update`)"
            continue
        try:
            contracts[project.name] = project_contract(project, record.sha)
        except MetaError as exc:
            problems[project.name] = f"cannot read its contracts at {record.sha[:12]}: {exc}"
    return contracts, problems


def counterparts(mine: Contract, others: dict[str, Contract]) -> list[tuple[str, str, Schema, str, Schema]]:
    """(message, producer, writer schema, consumer, reader schema) for every pair ``mine`` takes part in."""
    found = []
    for name, other in others.items():
        for message, schema in mine.publishes.items():
            if message in other.consumes:
                found.append((message, mine.service, schema, name, other.consumes[message]))
        for message, schema in mine.consumes.items():
            if message in other.publishes:
                found.append((message, name, other.publishes[message], mine.service, schema))
    for message, schema in mine.publishes.items():  # a service that reads its own messages
        if message in mine.consumes:
            found.append((message, mine.service, schema, mine.service, mine.consumes[message]))
    return found


def counterpart_pairs(mine: Contract, others: dict[str, Contract], policy: str,
                      my_version: str = "working tree", their_version: str = "deployed") -> list[Pair]:
    """``mine`` against every counterpart: as writer of what it publishes, reader of what it consumes."""
    return [Pair(message, producer, consumer, compare_schemas(writer, reader, policy),
                 my_version if producer == mine.service else their_version,
                 my_version if consumer == mine.service else their_version)
            for message, producer, writer, consumer, reader in counterparts(mine, others)]


def side_by_side(new: Contract, old: Contract, policy: str, new_version: str, old_version: str) -> list[Pair]:
    """While a service rolls out, its old and new instances run together and read each other's messages.

    For every message one version publishes and the other consumes (a
    service that reads its own events, or one that starts publishing what it
    used to only read), what each version sends must fit what the other reads.
    """
    pairs = []
    for writer, wv, reader, rv in ((new, new_version, old, old_version), (old, old_version, new, new_version)):
        for message in sorted(writer.publishes.keys() & reader.consumes.keys()):
            pairs.append(Pair(message, writer.service, reader.service,
                              compare_schemas(writer.publishes[message], reader.consumes[message], policy), wv, rv))
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
    unknown = []
    record = read_deployments(manifest.root, env).get(project.name)
    if record is not None:  # its running instances meet the new ones during the rollout
        try:
            running = project_contract(project, record.sha)
        except MetaError as exc:  # matters for certain only when it reads its own messages
            if mine.publishes.keys() & mine.consumes.keys():
                unknown.append((project.name, f"its own contracts at {record.sha[:12]}, which run beside the "
                                              f"new ones during the rollout, do not load: {exc}"))
        else:
            pairs += side_by_side(mine, running, policy, version, env)
    if problems:
        from metarepo.contracts.fleet import project_contract as current

        for name, why in problems.items():
            other = manifest.project(name)
            if not other.cloned:
                unknown.append((name, why))
                continue
            try:
                theirs = current(other)
            except MetaError as exc:
                unknown.append((name, f"{why}; and its contracts do not load: {exc}"))
                continue
            if set(mine.publishes) & set(theirs.consumes) or set(mine.consumes) & set(theirs.publishes):
                unknown.append((name, why))
    answer = NO if any(not p.compatible for p in pairs) else UNKNOWN if unknown else YES
    return Deployability(project.name, env, answer, tuple(pairs), tuple(unknown))
