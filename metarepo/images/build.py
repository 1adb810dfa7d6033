"""``meta build``: every selected project's image, in parallel, bases before the images built FROM them.

``plan_builds`` reads each project's Dockerfile and revision and decides
what to build, with which tags, after which other fleet images; it needs no
engine. ``build_images`` runs the plan through the graph executor with the
docker SDK: build, tag, optionally push. A build whose base failed is
skipped and says so; every build's log is kept under
``.metarepo/builds/<project>.log``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from metarepo.errors import GitError, ManifestError
from metarepo.manifest import Manifest, Project
from metarepo.report import NULL, Reporter
from metarepo.runner import Failed, Outcome, Run, run_parallel

from metarepo.images.dockerfile import DockerfileError, parse_dockerfile
from metarepo.image_reference import check_tag, image_repository, normalize_repository, split_reference
from metarepo.images.revision import Revision, changed_since, read_revision

LOG_DIR = "builds"
_LOG_TAIL = 4000


@dataclass(frozen=True)
class BuildSpec:
    """One image to build: where from, as what, after what."""

    project: str
    repository: str  # registry/image, no tag
    tags: tuple[str, ...]  # tag names; the first is the revision's
    context: Path
    dockerfile: Path
    build_args: Mapping[str, str]
    labels: Mapping[str, str]
    bases: tuple[str, ...]  # the FROM images, as written (after ARG substitution)
    revision: Revision

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(f"{self.repository}:{tag}" for tag in self.tags)


@dataclass(frozen=True)
class BuildPlan:
    specs: tuple[BuildSpec, ...]
    skipped: Mapping[str, str]  # project -> why it is not built
    failed: Mapping[str, str]  # project -> why it could not even be planned (its commit could not be read)
    needs: Mapping[str, tuple[str, ...]]  # project -> the fleet projects whose images it builds FROM

    def order(self) -> list[str]:
        return [s.project for s in self.specs]


@dataclass(frozen=True)
class BuiltImage:
    project: str
    repository: str
    tags: tuple[str, ...]  # full references
    id: str | None  # the local image id
    digest: str | None  # the registry's manifest digest (after a push)
    pushed: bool
    seconds: float
    log: str  # the log file
    log_tail: str = field(default="", repr=False)

    @property
    def tag_names(self) -> tuple[str, ...]:
        """The tags without the repository: ``(<sha>, "latest")``."""
        return tuple(reference[len(self.repository) + 1:] for reference in self.tags)

    def as_json(self) -> dict[str, Any]:
        return {"project": self.project, "image": self.repository, "tags": list(self.tags), "id": self.id,
                "digest": self.digest, "pushed": self.pushed, "seconds": round(self.seconds, 3), "log": self.log}


def _settings_mapping(project: Project, key: str) -> dict[str, str]:
    value = project.setting(key) or {}
    where = f"metarepo.projects.{project.name}.{key}"
    if not isinstance(value, Mapping):
        raise ManifestError("must be an object of name to value", key=where)
    result = {}
    for name, item in value.items():
        if isinstance(item, (dict, list)) or item is None or not isinstance(name, str):
            raise ManifestError(f"{name!r}: must be a string, number or boolean", key=where)
        result[name] = str(item).lower() if isinstance(item, bool) else str(item)
    return result


def _inside(root: Path, value: Any, key: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ManifestError("must be a path inside the project", key=key)
    path = (root / value).resolve()
    if path != root.resolve() and root.resolve() not in path.parents:
        raise ManifestError(f"{value!r} is outside the project", key=key)
    return path


def plan_builds(manifest: Manifest, projects: Sequence[Project], *, registry: str | None = None,
                extra_tags: Iterable[str] = (), since: str | None = None, jobs: int = 4,
                latest: bool = True) -> BuildPlan:
    """What to build. Projects that are not cloned or have no Dockerfile are skipped, with the reason.

    ``since``: only projects whose work tree differs from REF (in their own
    repository), and the fleet images built FROM them. Bad settings (an
    invalid image name, a Dockerfile outside the project) raise
    ``ManifestError`` before anything is built.
    """
    extra = tuple(check_tag(t, "--image-tag") for t in extra_tags)
    skipped: dict[str, str] = {}
    found: dict[str, tuple[Project, Path, Path]] = {}
    for project in projects:
        base = f"metarepo.projects.{project.name}"
        context = _inside(project.path, project.setting("context", "."), f"{base}.context")
        dockerfile = _inside(project.path, project.setting("dockerfile", "Dockerfile"), f"{base}.dockerfile") \
            if project.setting("dockerfile") else context / "Dockerfile"
        if not project.cloned:
            skipped[project.name] = "not cloned (run `meta update`)"
        elif not dockerfile.is_file():
            skipped[project.name] = f"no Dockerfile ({dockerfile.relative_to(project.path)})"
        else:
            found[project.name] = (project, context, dockerfile)

    def read(name: str) -> BuildSpec:
        project, context, dockerfile = found[name]
        args = _settings_mapping(project, "build_args")
        try:
            parsed = parse_dockerfile(dockerfile.read_text(encoding="utf-8", errors="replace"), args)
        except DockerfileError as exc:
            raise ManifestError(str(exc), file=str(dockerfile), line=exc.line) from None
        try:
            revision = read_revision(project)
        except GitError as exc:
            raise Failed(exc.message) from None
        repo = image_repository(project, registry)
        tags = [revision.tag]
        if revision.version and not revision.dirty:
            tags.append(revision.version)
        if latest:
            tags.append("latest")
        tags += [t for t in extra if t not in tags]
        labels = {"org.opencontainers.image.revision": revision.sha, "io.metarepo.project": project.name}
        if revision.version:
            labels["org.opencontainers.image.version"] = revision.version
        return BuildSpec(project.name, repo, tuple(dict.fromkeys(tags)), context, dockerfile, args, labels,
                         parsed.bases, revision)

    run = run_parallel(list(found), read, jobs=jobs)
    for outcome in run.outcomes:
        if isinstance(outcome.error, ManifestError):
            raise outcome.error
    specs = {o.key: o.value for o in run.outcomes if o.ok}
    failed = {str(o.key): o.reason for o in run.outcomes if not o.ok}
    needs = _dependencies(list(specs.values()))
    if since is not None:
        changed = set()
        for name, spec in specs.items():
            is_changed, why = changed_since(found[name][0], since)
            if is_changed:
                changed.add(name)
            else:
                skipped[name] = why
        changed |= _dependents(changed, needs)
        for name in changed:
            skipped.pop(name, None)
        specs = {k: v for k, v in specs.items() if k in changed}
    ordered = tuple(specs[p.name] for p in projects if p.name in specs)
    return BuildPlan(ordered, skipped, failed, {k: v for k, v in needs.items() if k in specs})


def _dependencies(specs: list[BuildSpec]) -> dict[str, tuple[str, ...]]:
    by_repository = {normalize_repository(s.repository): s.project for s in specs}
    needs = {}
    for spec in specs:
        found = []
        for base in spec.bases:
            other = by_repository.get(split_reference(base).normalized)
            if other and other != spec.project and other not in found:
                found.append(other)
        needs[spec.project] = tuple(found)
    return needs


def _dependents(names: set[str], needs: Mapping[str, tuple[str, ...]]) -> set[str]:
    result, frontier = set(), set(names)
    while frontier:
        frontier = {p for p, deps in needs.items() if set(deps) & frontier} - result - names
        result |= frontier
    return result


def _log_name(project: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", project).strip("_") + ".log"


def build_images(client: Any, plan: BuildPlan, *, log_dir: Path, jobs: int, push: bool = False,
                 no_cache: bool = False, reporter: Reporter = NULL,
                 on_outcome: Callable[[Outcome], None] | None = None) -> Run:
    """Build (and push) every image of ``plan``; outcome values are ``BuiltImage``s.

    A failed build's outcome carries its ``BuiltImage`` too (with the log's
    tail); the images built FROM it are skipped ("... did not succeed").
    """
    import time

    log_dir.mkdir(parents=True, exist_ok=True)
    by_name = {s.project: s for s in plan.specs}

    def work(name: str) -> BuiltImage:
        spec = by_name[name]
        log = log_dir / _log_name(name)
        t0 = time.monotonic()
        with log.open("w", encoding="utf-8", errors="replace") as out:
            try:
                image_id = _build(client, spec, out, no_cache)
                digest = None
                if push:
                    for reference in spec.references:
                        digest = _push(client, reference, out) or digest
            except _StepFailed as exc:
                out.flush()
                result = BuiltImage(name, spec.repository, spec.references, None, None, False,
                                    time.monotonic() - t0, str(log), _tail(log))
                raise Failed(exc.reason, result) from None
        return BuiltImage(name, spec.repository, spec.references, image_id, digest, push, time.monotonic() - t0,
                          str(log))

    return run_parallel(list(by_name), work, jobs=jobs, deps=plan.needs, reporter=reporter, on_outcome=on_outcome)


class _StepFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _tail(log: Path) -> str:
    data = log.read_bytes()
    return data[-_LOG_TAIL:].decode("utf-8", errors="replace")


def _build(client: Any, spec: BuildSpec, out: Any, no_cache: bool) -> str:
    from docker.errors import APIError, DockerException

    try:
        dockerfile = str(spec.dockerfile.relative_to(spec.context))
    except ValueError:
        dockerfile = str(spec.dockerfile)  # outside the context: the SDK sends it along
    image_id = None
    error = None
    try:
        stream = client.api.build(path=str(spec.context), dockerfile=dockerfile, tag=spec.references[0],
                                  buildargs=dict(spec.build_args), labels=dict(spec.labels), rm=True,
                                  forcerm=True, nocache=no_cache, pull=False, decode=True)
        for chunk in stream:
            if "stream" in chunk:
                out.write(chunk["stream"])
            elif "error" in chunk:
                error = chunk["error"].strip()
                out.write(f"ERROR: {error}\n")
            elif "aux" in chunk and isinstance(chunk["aux"], dict) and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            elif "status" in chunk:
                out.write(chunk["status"] + "\n")
    except (APIError, DockerException, OSError) as exc:
        from metarepo.images.engine import first_line

        out.write(f"ERROR: {exc}\n")
        raise _StepFailed(f"build failed: {first_line(exc)}") from None
    if error or image_id is None:
        raise _StepFailed(f"build failed: {error or 'the engine reported no image'}")
    for tag in spec.tags[1:]:
        client.api.tag(image_id, spec.repository, tag, force=True)
    return image_id


def _push(client: Any, reference: str, out: Any) -> str | None:
    from docker.errors import APIError, DockerException

    parsed = split_reference(reference)
    repo, tag = parsed.repository, parsed.tag
    out.write(f"pushing {reference}\n")
    digest = None
    try:
        for chunk in client.api.push(repo, tag=tag, stream=True, decode=True):
            if "error" in chunk:
                message = chunk["error"].strip()
                out.write(f"ERROR: {message}\n")
                raise _StepFailed(f"push of {reference} failed: {_registry_reason(message)}")
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = aux["Digest"]
            elif chunk.get("status") and not chunk.get("progressDetail"):
                out.write(f"{chunk.get('id', '')} {chunk['status']}".strip() + "\n")
    except (APIError, DockerException, OSError) as exc:
        from metarepo.images.engine import first_line

        out.write(f"ERROR: {exc}\n")
        raise _StepFailed(f"push of {reference} failed: {first_line(exc)}") from None
    return digest


def _registry_reason(message: str) -> str:
    lowered = message.lower()
    if "connection refused" in lowered or "no such host" in lowered or "i/o timeout" in lowered:
        return f"the registry is unreachable ({message.splitlines()[0][:200]})"
    if "unauthorized" in lowered or "authentication required" in lowered or "denied" in lowered:
        return f"the registry refused the credentials ({message.splitlines()[0][:200]}); run `docker login`"
    return message.splitlines()[0][:300]
