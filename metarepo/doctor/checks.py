"""The built-in checks that read one repository (and its settings): containerised, proxy, monitoring,
logging, meta. Delivery, contracts and messaging are asked of the whole fleet at once (``delivery``,
``fleet_contracts``). Each function here is pure: facts in, ``Result``s out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from metarepo.doctor import settings
from metarepo.doctor.image import ImageFacts
from metarepo.doctor.model import Check, Result, failed, not_applicable, passed
from metarepo.doctor.repository import RemoteRefs
from metarepo.manifest import Project

DOCKERFILE = Check("containerised", "dockerfile", "a Dockerfile that parses")
HEALTHCHECK = Check("containerised", "healthcheck", "a HEALTHCHECK in the final stage")
PINNED = Check("containerised", "pinned", "every base image pinned (a digest or a version tag)")
NOT_ROOT = Check("containerised", "user", "the final stage runs as a user that is not root")
PIPELINE = Check("delivery", "pipeline", "a generated pipeline in step with the templates")
DECLARED = Check("contracts", "declared", "a contracts file (contracts.yaml or AsyncAPI)")
LOADING = Check("contracts", "loading", "the contracts load and their schemas are valid")
COMPATIBLE = Check("contracts", "compatible", "nothing breaking between it and its counterparts")
ROUTE = Check("proxy", "route", "a route through the edge proxy")
UNEXPOSED = Check("proxy", "unexposed", "no port published past the proxy (unless expose: true)")
METRICS = Check("monitoring", "metrics", "a metrics endpoint declared (metrics: {port, path})")
SLO = Check("monitoring", "slo", "service level objectives declared (slo)")
STDOUT = Check("logging", "stdout", "logs to stdout: no log file written in the container")
SHIPPED = Check("logging", "shipped", "every environment ships logs (a logging driver)")
PRODUCERS = Check("messaging", "producers", "every message it consumes has a producer")
BROKER = Check("messaging", "broker", "every environment names its message broker")
TAGS = Check("meta", "tags", "tags in .meta, so --tag selects it")
BRANCH = Check("meta", "branch", "a default branch in .meta that the remote has")

BUILTIN = (DOCKERFILE, HEALTHCHECK, PINNED, NOT_ROOT, PIPELINE, DECLARED, LOADING, COMPATIBLE, ROUTE, UNEXPOSED,
           METRICS, SLO, STDOUT, SHIPPED, PRODUCERS, BROKER, TAGS, BRANCH)


@dataclass(frozen=True)
class Fleet:
    """What the per-repository checks need to know about the whole fleet, computed once."""

    images: frozenset[str]  # every project's image repository, normalised: a FROM one of them is pinned
    logging: Mapping[str, settings.Declared]  # environment -> its `logging`
    broker: Mapping[str, settings.Declared]  # environment -> its `broker`


def deployed(project: Project) -> bool:
    return project.setting("deploy", True) is not False


NOT_DEPLOYED = "not deployed (deploy: false)"


def _key(project: Project, name: str) -> str:
    return f"metarepo.projects.{project.name}.{name}"


# -- containerised --------------------------------------------------------------


def containerised(project: Project, image: ImageFacts, fleet: Fleet) -> list[Result]:
    if image.dockerfile is None:
        why = "no Dockerfile"
        return [failed(DOCKERFILE, "add a Dockerfile (or set `dockerfile` in .meta to where it is)"),
                not_applicable(HEALTHCHECK, why), not_applicable(PINNED, why), not_applicable(NOT_ROOT, why)]
    if image.error:
        why = "the Dockerfile does not parse"
        return [failed(DOCKERFILE, f"fix {image.error}"), not_applicable(HEALTHCHECK, why),
                not_applicable(PINNED, why), not_applicable(NOT_ROOT, why)]
    return [passed(DOCKERFILE, image.dockerfile), _healthcheck(image), _pinned(image, fleet), _user(image)]


def _healthcheck(image: ImageFacts) -> Result:
    if image.healthcheck:
        return passed(HEALTHCHECK)
    if image.healthcheck_disabled:
        return failed(HEALTHCHECK, "HEALTHCHECK NONE turns the check off: give the final stage a "
                                   "HEALTHCHECK CMD (a rollout waits for it to say healthy)")
    return failed(HEALTHCHECK, "add a HEALTHCHECK CMD to the final stage (a rollout waits for it to say healthy)")


def _pinned(image: ImageFacts, fleet: Fleet) -> Result:
    from metarepo.image_reference import normalize_repository, split_reference

    loose = []
    for base in image.bases:
        if not base or "$" in base:
            loose.append(base or "an empty name")
            continue
        ref = split_reference(base)
        if ref.digest or (ref.tag and ref.tag != "latest") or normalize_repository(ref.repository) in fleet.images:
            continue
        loose.append(base)
    if not loose:
        return passed(PINNED, ", ".join(image.bases) or "FROM scratch")
    first = loose[0]
    more = f" (and {len(loose) - 1} more)" if len(loose) > 1 else ""
    name = split_reference(first).repository if "$" not in first else first
    return failed(PINNED, f"pin FROM {first}{more} to a version tag or a digest ({name}:1.2.3 or "
                          f"{name}@sha256:...), so a rebuild gets the same base")


def _user(image: ImageFacts) -> Result:
    if image.user is None:
        return failed(NOT_ROOT, "no USER in the final stage, so it runs as its base image's user (root for "
                                "most): add `USER 10001` (any user but root)")
    who = image.user.split(":", 1)[0].strip()
    if who in ("root", "0"):
        return failed(NOT_ROOT, f"USER {image.user} runs as root: make it another user (`USER 10001`)")
    return passed(NOT_ROOT, f"USER {image.user}")


# -- proxy and monitoring ------------------------------------------------------------


def proxy(project: Project) -> list[Result]:
    if not deployed(project):
        return [not_applicable(ROUTE, NOT_DEPLOYED), not_applicable(UNEXPOSED, NOT_DEPLOYED)]
    route = settings.route(project)
    if not route.present:
        first = failed(ROUTE, f"declare its route: {_key(project, 'route')} = {{hosts: [...], path, port}}")
    elif route.problem:
        first = failed(ROUTE, f"fix {_key(project, 'route')}: {route.problem}")
    else:
        first = passed(ROUTE)
    ports = settings.published_ports(project)
    if not ports:
        second = passed(UNEXPOSED)
    elif settings.exposed(project):
        second = passed(UNEXPOSED, f"publishes {', '.join(ports)} on purpose (expose: true)")
    else:
        second = failed(UNEXPOSED, f"publishes {', '.join(ports)} past the proxy: route it instead (remove "
                                   f"{_key(project, 'publish')}), or say expose: true if it must be")
    return [first, second]


def monitoring(project: Project) -> list[Result]:
    if not deployed(project):
        return [not_applicable(METRICS, NOT_DEPLOYED), not_applicable(SLO, NOT_DEPLOYED)]
    out = []
    for check, declared, example in ((METRICS, settings.metrics(project), "{port: 9100, path: \"/metrics\"}"),
                                     (SLO, settings.slo(project), "{error_ratio: 0.01, latency_p99_ms: 500}")):
        if not declared.present:
            out.append(failed(check, f"declare {_key(project, check.name)} = {example}"))
        elif declared.problem:
            out.append(failed(check, f"fix {_key(project, check.name)}: {declared.problem}"))
        else:
            out.append(passed(check))
    return out


# -- logging -----------------------------------------------------------------------------


def logging(project: Project, image: ImageFacts, fleet: Fleet) -> list[Result]:
    if image.dockerfile is None or image.error:
        first = not_applicable(STDOUT, "no Dockerfile to read" if image.dockerfile is None else
                               "the Dockerfile does not parse")
    elif image.log_writes:
        more = f" (and {len(image.log_writes) - 1} more)" if len(image.log_writes) > 1 else ""
        first = failed(STDOUT, f"{image.log_writes[0]}{more}: write the log to stdout/stderr instead")
    else:
        first = passed(STDOUT)
    return [first, _environments(SHIPPED, project, fleet.logging, "logging", "{driver: syslog, options: {...}}")]


def _environments(check: Check, project: Project, by_env: Mapping[str, settings.Declared], key: str,
                  example: str) -> Result:
    if not deployed(project):
        return not_applicable(check, NOT_DEPLOYED)
    if not by_env:
        return not_applicable(check, "no environment in .meta")
    missing = [name for name, d in by_env.items() if not d.present]
    bad = [(name, d.problem) for name, d in by_env.items() if d.present and d.problem]
    if missing:
        return failed(check, f"set metarepo.environments.{missing[0]}.{key} = {example}"
                             + (f" (and in {', '.join(missing[1:])})" if missing[1:] else ""))
    if bad:
        return failed(check, f"fix metarepo.environments.{bad[0][0]}.{key}: {bad[0][1]}")
    return passed(check, ", ".join(by_env))


def broker(project: Project, fleet: Fleet, has_messages: bool) -> Result:
    if not has_messages:
        return not_applicable(BROKER, "it sends and receives no message")
    return _environments(BROKER, project, fleet.broker, "broker", "{kind: rabbitmq, url, exchange}")


# -- meta ---------------------------------------------------------------------------------


def meta(project: Project, refs: RemoteRefs | None) -> list[Result]:
    tags = passed(TAGS, ", ".join(project.tags)) if project.tags else failed(
        TAGS, f"give it tags: {_key(project, 'tags')} = [\"backend\"] (or in metarepo.defaults)")
    branch = project.setting("branch")
    if not isinstance(branch, str) or not branch:
        known = f" (the remote's is {refs.default})" if refs and refs.default else ""
        return [tags, failed(BRANCH, f"set {_key(project, 'branch')}{known}: the branch a commit deploys from")]
    if refs is None or not refs.known:
        return [tags, passed(BRANCH, branch)]
    if refs.default and refs.default != branch:
        return [tags, failed(BRANCH, f"`branch` is {branch} but the remote's default is {refs.default}: "
                                     f"set {_key(project, 'branch')} to the one that deploys")]
    if refs.branches and branch not in refs.branches:
        return [tags, failed(BRANCH, f"the remote has no branch {branch}: fix {_key(project, 'branch')}")]
    return [tags, passed(BRANCH, branch)]
