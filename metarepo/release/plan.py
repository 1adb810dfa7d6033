"""``meta release plan``: what a train would release, at which versions, and in which order. Writes nothing.

For every selected project with commits since its last release tag: the
next version from its Conventional Commits (``conventional``), its
changelog section, and, with an environment (``--to ENV``), the contracts
gate's verdict of its new version against what ENV runs. A pair that the
gate calls breaking, and that was not already broken at the last release,
is a breaking change of the service's messages: at least a major bump,
whatever the commits said, and the plan says why. Then the order the train
rolls out in: the contracts planner's over the train's deployable services
(a train with no safe order is refused there, before anything is tagged),
else the manifest's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from metarepo.errors import GitError, MetaError
from metarepo.manifest import Manifest, Project
from metarepo.report import NULL, Reporter
from metarepo.runner import Failed, run_parallel

from metarepo.release.changelog import changelog_section
from metarepo.release.conventional import Commit
from metarepo.release.history import History, read_history
from metarepo.release.settings import ReleaseSettings, Unparsed, release_settings
from metarepo.release.version import ZERO, Bump, Version
from metarepo.release.version_files import read_version_file, shown_as


@dataclass(frozen=True)
class ContractVerdict:
    """The contracts gate's answer for one service's new version against an environment."""

    answer: str  # yes, no or unknown (can-i-deploy's words)
    breaking: tuple[str, ...] = ()  # pairs this release breaks
    already: tuple[str, ...] = ()  # pairs broken already at the last release: not this release's doing
    unknown: tuple[str, ...] = ()  # what could not be asked, and why

    def as_json(self) -> dict[str, Any]:
        return {"answer": self.answer, "breaking": list(self.breaking), "already_breaking": list(self.already),
                "unknown": list(self.unknown)}


@dataclass(frozen=True)
class ProjectRelease:
    """One project of a train: from which version to which, and why."""

    project: str
    head: str  # the commit the release is made on
    last_tag: str | None
    current: Version | None
    version: Version
    bump: Bump
    commits: tuple[Commit, ...]
    unparsed: int  # how many commits are not Conventional Commits
    settings: ReleaseSettings
    reasons: tuple[str, ...] = ()  # why the bump is bigger than the commits say (the contracts gate)
    verdict: ContractVerdict | None = None

    @property
    def tag(self) -> str:
        return self.settings.tag(self.version)

    def section(self, date: str | None = None) -> str:
        return changelog_section(str(self.version), date or today(), self.commits,
                                 unparsed_counted=self.settings.unparsed is Unparsed.PATCH,
                                 reasons=self.reasons)

    def as_json(self) -> dict[str, Any]:
        return {"project": self.project, "head": self.head, "last_tag": self.last_tag,
                "current": str(self.current) if self.current else None, "version": str(self.version),
                "tag": self.tag, "bump": self.bump.word, "unparsed": self.unparsed, "reasons": list(self.reasons),
                "commits": [{"sha": c.sha, "type": c.type, "scope": c.scope, "breaking": c.breaking,
                             "subject": c.subject} for c in self.commits],
                "version_files": list(self.settings.version_files),
                "contracts": self.verdict.as_json() if self.verdict else None, "changelog": self.section()}


@dataclass(frozen=True)
class ReleasePlan:
    env: str | None
    releases: tuple[ProjectRelease, ...]  # in manifest order
    order: tuple[str, ...]  # the projects the train rolls out, in rollout order
    order_from: str  # "contracts" or "manifest"
    blocked: str = ""  # the contracts planner's reason when there is no safe order
    unchanged: Mapping[str, str] = field(default_factory=dict)  # project -> why it has nothing to release
    notes: tuple[str, ...] = ()

    def release(self, project: str) -> ProjectRelease:
        return next(r for r in self.releases if r.project == project)


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


def _next(history: History, settings: ReleaseSettings) -> tuple[Bump, int]:
    unparsed = sum(1 for c in history.commits if not c.parsed)
    bump = max((c.bump for c in history.commits), default=Bump.NONE)
    if unparsed and settings.unparsed is Unparsed.PATCH:
        bump = max(bump, Bump.PATCH)
    return bump, unparsed


def _why_nothing(history: History, unparsed: int) -> str:
    since = f"since {history.tag}" if history.tag else "yet"
    if not history.commits:
        return f"no commits {since}"
    kinds = sorted({c.type for c in history.commits if c.type})
    skipped = f"; {unparsed} not Conventional Commits (release.unparsed: skip)" if unparsed else ""
    return f"{len(history.commits)} commit(s) {since}, none that releases ({', '.join(kinds) or 'no type'}){skipped}"


def plan_release(manifest: Manifest, projects: Sequence[Project], *, env: str | None = None, jobs: int = 4,
                 reporter: Reporter = NULL) -> ReleasePlan:
    """The train ``projects`` would make. Bad settings or version files raise ``ManifestError`` (exit 2)."""
    if env is not None:
        manifest.environment(env)
    by_name = {p.name: p for p in projects}
    settings = {p.name: release_settings(manifest, p) for p in projects}
    unchanged: dict[str, str] = {}
    for project in projects:
        if not project.cloned:
            unchanged[project.name] = "not cloned (run `meta update`)"

    def read(name: str) -> tuple[History, Bump, int]:
        try:
            history = read_history(by_name[name], settings[name])
        except GitError as exc:
            raise Failed(exc.message) from None
        bump, unparsed = _next(history, settings[name])
        return history, bump, unparsed

    names = [p.name for p in projects if p.name not in unchanged]
    run = run_parallel(names, read, jobs=jobs, reporter=reporter)
    if run.interrupted:
        raise KeyboardInterrupt
    failed = [o for o in run.outcomes if not o.ok]
    if failed:
        from metarepo.errors import WorkFailed

        raise WorkFailed("; ".join(f"{o.key}: {o.reason}" for o in failed[:3]))
    found: dict[str, tuple[History, Bump, int]] = {str(o.key): o.value for o in run.outcomes}
    verdicts: dict[str, ContractVerdict] = {}
    if env is not None:
        verdicts = _contract_verdicts(manifest, env, {n: h for n, (h, _, _) in found.items() if h.commits})
    releases = []
    for name in names:
        history, bump, unparsed = found[name]
        verdict = verdicts.get(name)
        reasons: tuple[str, ...] = ()
        if verdict is not None and verdict.breaking:
            reasons = tuple(f"**contracts:** {line}" for line in verdict.breaking)
            bump = max(bump, Bump.MAJOR)
        if bump is Bump.NONE:
            unchanged[name] = _why_nothing(history, unparsed)
            continue
        current = history.version
        project = by_name[name]
        for file in settings[name].version_files:
            with shown_as(project.path / file, f"{name}/{file}"):
                read_version_file(project.path / file)  # a file that names no version is bad input, here
        releases.append(ProjectRelease(name, history.head, history.tag, current, (current or ZERO).bumped(bump),
                                       bump, history.commits, unparsed, settings[name], reasons, verdict))
    order, order_from, blocked = _rollout_order(manifest, env, releases)
    notes = () if env else ("no --to ENV: the contracts gate was not asked, and the order is the manifest's",)
    return ReleasePlan(env, tuple(releases), tuple(order), order_from, blocked,
                       {p.name: unchanged[p.name] for p in projects if p.name in unchanged}, notes)


def deployable(project: Project) -> bool:
    """Whether ``meta rollout`` would deploy this project (it has an image and is not ``deploy: false``)."""
    if project.setting("deploy", True) is False:
        return False
    context = project.setting("context", ".")
    return bool(project.setting("dockerfile")) or (project.path / str(context) / "Dockerfile").is_file()


def _rollout_order(manifest: Manifest, env: str | None, releases: Sequence[ProjectRelease]
                   ) -> tuple[list[str], str, str]:
    names = [r.project for r in releases if deployable(manifest.project(r.project))]
    if env is None or not names:
        return names, "manifest", ""
    from metarepo.contracts.fleet import project_contract
    from metarepo.contracts.plan import NoSafeOrder, deploy_order

    heads = {r.project: r.head for r in releases}
    if not any(project_contract(manifest.project(n), heads[n]).files for n in names):
        return names, "manifest", ""
    try:
        return deploy_order(manifest, names, env, at=heads), "contracts", ""
    except NoSafeOrder as exc:
        return names, "contracts", str(exc)


def _pair_key(pair: Any) -> tuple[str, str, str]:
    return pair.message.label, pair.producer, pair.consumer


def _describe(pair: Any, env: str) -> str:
    change = next((c for c in pair.verdict.changes if c.breaking), None)
    what = f" ({change.path}: {change.message})" if change else ""
    return f"{pair.message.label}: {pair.producer} -> {pair.consumer} breaks against {env}{what}"


def _contract_verdicts(manifest: Manifest, env: str, changed: Mapping[str, History]) -> dict[str, ContractVerdict]:
    """can-i-deploy for each changed service at its HEAD; a NO pair also broken at its last tag is not new."""
    from metarepo.contracts.deploy import can_i_deploy
    from metarepo.contracts.fleet import project_contract
    from metarepo.contracts.model import Compatibility

    verdicts = {}
    for name, history in changed.items():
        project = manifest.project(name)
        if not project_contract(project, history.head).files:
            continue
        now = can_i_deploy(manifest, name, env, ref=history.head)
        broken = [p for p in now.pairs if p.state is Compatibility.BREAKING]
        before: set[tuple[str, str, str]] = set()
        if broken and history.tag:
            try:
                then = can_i_deploy(manifest, name, env, ref=f"refs/tags/{history.tag}")
                before = {_pair_key(p) for p in then.pairs if p.state is Compatibility.BREAKING}
            except MetaError:
                before = set()  # its old contracts do not load: every break counts as this release's
        new = tuple(_describe(p, env) for p in broken if _pair_key(p) not in before)
        old = tuple(_describe(p, env) for p in broken if _pair_key(p) in before)
        verdicts[name] = ContractVerdict(now.answer.value, new, old,
                                         tuple(f"{who}: {why}" for who, why in now.unknown))
    return verdicts
