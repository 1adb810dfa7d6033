"""Validation of every rendered pipeline before anything is written.

YAML pipelines are parsed (``metarepo.templating.readback``: duplicate keys refused), checked against the
schema check-jsonschema vendors for their CI system (used as a library: the
schema is read from the installed package and any remote ``$ref`` is
refused, so no network is touched), then our own checks: every
``requires``/``needs`` names a job that exists (for Travis: every job's stage
is listed), and every deploy job runs on the default branch only (for Travis,
whose pull requests carry their base branch, on a push or an API request to
it). Jenkinsfiles go to ``metarepo.ci.jenkins``.
"""

from __future__ import annotations

import functools
from typing import Any

from metarepo.ci.templates import Output
from metarepo.ci.values import PipelineValues
from metarepo.templating.escape import Dialect
from metarepo.templating.readback import Problem, line_at, parse_yaml

SCHEMAS = {"github": "vendor.github-workflows", "circleci": "vendor.circle-ci", "gitlab": "vendor.gitlab-ci",
           "travis": "vendor.travis"}
GITLAB_RESERVED = {"default", "include", "stages", "variables", "workflow", "image", "services", "cache",
                   "before_script", "after_script", "types", "pages:deploy", "spec"}


# -- what has passed before ---------------------------------------------------------

VALIDATED_FILE = "ci-validated.json"
_VALIDATED_LIMIT = 20_000  # digests kept: a few per project of the largest fleets, and their last versions


def validated_key(output: Output, text: str, values: PipelineValues) -> str:
    """What a file's verdict depends on: its provider, the default branch and its text."""
    import hashlib

    key = f"{values.provider}\0{output.dialect.value}\0{values.branch}\0{text}"
    return hashlib.sha256(key.encode()).hexdigest()


@functools.lru_cache(maxsize=None)
def _checker_version() -> str:
    """Changes whenever the checks could: our checking code and the schemas' and parsers' packages."""
    import hashlib
    from importlib import metadata
    from pathlib import Path

    from metarepo.templating import readback

    digest = hashlib.sha256()
    for module in (Path(__file__).parent / "validate.py", Path(__file__).parent / "jenkins.py",
                   Path(readback.__file__)):
        digest.update(module.read_bytes())
    for package in ("check-jsonschema", "jsonschema", "PyYAML", "tree-sitter", "tree-sitter-groovy"):
        try:
            digest.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package}=none".encode())
    return digest.hexdigest()


def load_validated(state_dir: Any) -> dict[str, None]:
    """The digests of rendered files that passed every check in earlier runs (by ``validated_key``).

    Validating a pipeline against its CI system's schema is most of what
    ``meta ci check`` costs; a file that passed once passes again, so a run
    over an unchanged fleet only renders and compares. Kept in ``.metarepo/``
    with the checker's version: any change to the checks starts it afresh.
    """
    import json

    try:
        data = json.loads((state_dir / VALIDATED_FILE).read_text())
        if data.get("checker") == _checker_version():
            return dict.fromkeys(data["digests"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return {}


def save_validated(manifest: Any, digests: dict[str, None]) -> None:
    import json

    from metarepo.errors import MetaError
    from metarepo.manifest import edit_lock, write_atomic

    try:
        with edit_lock(manifest.root, wait=2):  # merged with what another run saved meanwhile
            merged = {key: None for key in load_validated(manifest.state_dir) if key not in digests}
            merged.update(digests)
            kept = list(merged)[-_VALIDATED_LIMIT:]  # the newest last: what this run used survives
            write_atomic(manifest.ensure_state_dir() / VALIDATED_FILE,
                         json.dumps({"checker": _checker_version(), "digests": kept}), durable=False)
    except (OSError, MetaError):
        pass  # a cache that cannot be written only costs time


def check_output(output: Output, text: str, values: PipelineValues) -> None:
    """Raise ``Problem`` (with the rendered file's line) at the first thing wrong with ``text``."""
    if output.dialect is Dialect.GROOVY:
        from metarepo.ci.jenkins import JenkinsfileInvalid, check_jenkinsfile

        try:
            check_jenkinsfile(text, values.branch)
        except JenkinsfileInvalid as exc:
            raise Problem(exc.message, line=exc.line) from None
        return
    try:
        check_yaml(values.provider, parse_yaml(text), values.branch)
    except Problem as exc:
        if exc.line is None:  # parsed fine, so the node tree (for lines) is built only now
            exc.line = line_at(text, exc.path)
        raise


@functools.lru_cache(maxsize=None)
def schema_validator(provider: str) -> Any:
    """A jsonschema validator for ``provider``'s vendored schema, with no network reference retrieval."""
    import jsonschema
    import referencing
    from check_jsonschema.builtin_schemas import get_builtin_schema
    from check_jsonschema.formats import FormatOptions, make_format_checker
    from check_jsonschema.regex_variants import RegexImplementation, RegexVariantName

    schema = get_builtin_schema(SCHEMAS[provider])
    regex = RegexImplementation(RegexVariantName.default)
    cls = jsonschema.validators.validator_for(schema)
    cls = jsonschema.validators.extend(cls, {"pattern": regex.pattern_keyword,
                                             "patternProperties": regex.patternProperties_keyword})

    def refuse(uri: str) -> Any:
        raise referencing.exceptions.NoSuchResource(ref=uri)

    registry = referencing.Registry(retrieve=refuse)  # type: ignore[call-arg]
    checker = make_format_checker(FormatOptions(regex_impl=regex), schema.get("$schema"))
    return cls(schema, registry=registry, format_checker=checker)


def check_yaml(provider: str, document: dict[str, Any], branch: str) -> None:
    import jsonschema

    error = jsonschema.exceptions.best_match(schema_validator(provider).iter_errors(document))
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise Problem(f"{SCHEMAS[provider]} schema: at {at}: {_short(error.message)}", error.absolute_path)
    {"github": _check_github, "circleci": _check_circleci, "gitlab": _check_gitlab,
     "travis": _check_travis}[provider](document, branch)


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[:limit - 1] + "…"


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        value = [value]
    out = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("job") or item.get("pipeline") or ""
        out.append(str(item))
    return out


def _is_deploy(name: str, job: Any) -> bool:
    return "deploy" in name.lower() or (isinstance(job, dict) and "environment" in job)


def _check_github(doc: dict[str, Any], branch: str) -> None:
    jobs = doc.get("jobs") or {}
    condition = f"github.ref == 'refs/heads/{branch}'"
    for name, job in jobs.items():
        for need in _names(job.get("needs")):
            if need not in jobs:
                raise Problem(f"job {name!r} needs {need!r}, which is not a job", ("jobs", name, "needs"))
        if _is_deploy(name, job) and condition not in str(job.get("if", "")):
            raise Problem(f"deploy job {name!r} must run on the default branch only: "
                          f"`if: {condition}`", ("jobs", name))


def _check_circleci(doc: dict[str, Any], branch: str) -> None:
    jobs = doc.get("jobs") or {}
    for wname, workflow in (doc.get("workflows") or {}).items():
        if not isinstance(workflow, dict):
            continue
        entries = []
        for n, item in enumerate(workflow.get("jobs") or []):
            key, spec = (item, {}) if isinstance(item, str) else next(iter(item.items()))
            spec = spec or {}
            entries.append((n, key, spec, spec.get("name", key)))
        defined = {shown for _, _, _, shown in entries}
        for n, key, spec, shown in entries:
            path = ("workflows", wname, "jobs", n)
            if key not in jobs and spec.get("type") != "approval" and "/" not in key:
                raise Problem(f"workflow {wname!r} runs job {key!r}, which is not defined under jobs", path)
            for need in _names(spec.get("requires")):
                if need not in defined:
                    raise Problem(f"job {shown!r} requires {need!r}, which is not in workflow {wname!r}", path)
            if "deploy" in shown.lower():
                only = ((spec.get("filters") or {}).get("branches") or {}).get("only")
                if _names(only) != [branch]:
                    raise Problem(f"deploy job {shown!r} must run on the default branch only: "
                                  f"filters: branches: only: {branch}", path)


def _check_gitlab(doc: dict[str, Any], branch: str) -> None:
    jobs = {k: v for k, v in doc.items() if k not in GITLAB_RESERVED and not k.startswith(".")
            and isinstance(v, dict)}
    stages = doc.get("stages") or [".pre", "build", "test", "deploy", ".post"]
    conditions = (f'$CI_COMMIT_BRANCH == "{branch}"', "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH")
    for name, job in jobs.items():
        for need in _names(job.get("needs")):
            if need not in jobs:
                raise Problem(f"job {name!r} needs {need!r}, which is not a job", (name, "needs"))
        stage = job.get("stage", "test")
        if stage not in stages and stage not in (".pre", ".post"):
            raise Problem(f"job {name!r} is in stage {stage!r}, which is not listed under stages", (name, "stage"))
        if _is_deploy(name, job):
            rules = job.get("rules") or []
            ok = bool(rules) and all(isinstance(r, dict) and any(c in str(r.get("if", "")) for c in conditions)
                                     for r in rules)
            if not ok:
                raise Problem(f"deploy job {name!r} must run on the default branch only: every rule needs "
                              f'`if: $CI_COMMIT_BRANCH == "{branch}"`', (name,))


def _check_travis(doc: dict[str, Any], branch: str) -> None:
    stages: dict[str, tuple[int, str]] = {}  # stage name (Travis ignores case) to its place and condition
    for index, item in enumerate(doc.get("stages") or []):
        name, condition = (item, "") if isinstance(item, str) else (item.get("name", ""), item.get("if", ""))
        stages[str(name).lower()] = (index, str(condition or ""))
    on_branch = f'branch = "{branch}"'
    for n, job in enumerate((doc.get("jobs") or {}).get("include") or []):
        if not isinstance(job, dict):
            continue
        path = ("jobs", "include", n)
        stage = str(job.get("stage", "test"))
        if stages and stage.lower() not in stages:
            raise Problem(f"job {job.get('name', n)!r} is in stage {stage!r}, which is not listed under stages", path)
        name = str(job.get("name", ""))
        if "deploy" in name.lower() or "deploy" in stage.lower():
            index, stage_if = stages.get(stage.lower(), (None, ""))
            condition = f"{job.get('if', '')} AND {stage_if}"
            if on_branch not in condition or not ("type = push" in condition or "type = api" in condition):
                where = path if "if" in job or index is None else ("stages", index)  # where the condition lives
                raise Problem(f"deploy job {name or stage!r} must run on the default branch only: its stage or "
                              f"job needs `if: type = push AND {on_branch}` (or `type = api`)", where)
