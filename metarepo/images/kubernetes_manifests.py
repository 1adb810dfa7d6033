"""Render one release's Kubernetes Deployment and Service (and Ingress, when routed), then validate them offline.

The templates are ``ci-templates/kubernetes/{service,deployment,ingress}.yaml.j2``,
rendered through ``metarepo.templating`` like the CI pipelines (the meta
repo's own file first, whole or block by block, then the built-in one; in
the sandbox) and escaped with the YAML dialect.
Each rendered document is parsed (duplicate keys refused), validated with
``kubernetes-validate`` against the strict schemas it ships for one
Kubernetes version (no cluster, no network), then checked for what the API
server would refuse but a schema cannot say: label syntax, a selector that
does not match the pods, a progress deadline shorter than the ready window.
The first problem is one ``ManifestError`` naming the template, the line
and what is wrong; nothing is returned, so nothing can be applied.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from metarepo.errors import ManifestError, UsageError
from metarepo.images.release import EnvironmentSettings, Release
from metarepo.templating.environment import OVERRIDE_DIR, Origin, template_origin
from metarepo.templating.escape import Dialect
from metarepo.templating.readback import Problem, line_at, parse_yaml
from metarepo.templating.render import invalid_render, render_template

KUBERNETES_VERSION = "1.30"  # validated against unless the environment sets `kubernetes_version`
DEFAULT_PORT = 8080  # the Service's port when the project sets none
PORT_NAME = "main"
TEMPLATES = (("Service", "kubernetes/service.yaml.j2"), ("Deployment", "kubernetes/deployment.yaml.j2"))

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_VALUE = re.compile(rf"^({_NAME})?$")
_QUALIFIED = re.compile(rf"^(?:(?P<prefix>[a-z0-9]([-a-z0-9.]*[a-z0-9])?)/)?(?P<name>{_NAME})$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class KubernetesManifest:
    """One rendered, validated object: its text (as applied) and the parsed document."""

    kind: str  # Deployment | Service
    name: str
    template: str  # e.g. "kubernetes/deployment.yaml.j2"
    origin: Origin
    text: str
    document: Mapping[str, Any] = field(compare=False, repr=False, hash=False)


def render_kubernetes(meta_root: Path | None, release: Release,
                      settings: EnvironmentSettings) -> tuple[KubernetesManifest, ...]:
    """The Service and Deployment for ``release`` in ``settings``' environment, rendered and validated."""
    from metarepo.images.kubernetes_ingress import TEMPLATE as INGRESS

    version = kubernetes_version(settings)
    context = kubernetes_values(meta_root, release, settings)
    manifests = []
    for kind, template in TEMPLATES + ((INGRESS,) if context["route"] else ()):
        origin = template_origin(meta_root, template)
        subject = f"{release.project} as {template.rsplit('/', 1)[-1].removesuffix('.j2')}"
        body = render_template(meta_root, template, Dialect.YAML, context, release.project).rstrip("\n") + "\n"
        text = (f"# Rendered by `meta rollout {settings.name}` from {OVERRIDE_DIR}/{template} ({origin.value}) "
                f"for {release.project}.\n" + body)
        try:
            document = _parse(text)
            _expect(document, kind, release.service)
            _validate_schema(document, version)
            _check(document, manifests[0].document if manifests else None)
        except Problem as exc:
            raise invalid_render(meta_root, template, subject, text, _line(text, exc), exc.message) from None
        manifests.append(KubernetesManifest(kind, release.service, template, origin, text, document))
    return tuple(manifests)


def manifest_stream(manifests: tuple[KubernetesManifest, ...]) -> str:
    """The manifests as one YAML stream, as ``kubectl apply -f -`` reads it."""
    return "---\n".join(m.text for m in manifests)


# -- the values a template sees ---------------------------------------------------


def kubernetes_values(meta_root: Path | None, release: Release, settings: EnvironmentSettings) -> dict:
    """What the Kubernetes templates render with, for one release (checked here, escaped by the dialect)."""
    env_key = f"metarepo.environments.{settings.name}"
    namespace = settings.namespace
    if namespace is not None and (not _DNS_LABEL.match(namespace) or len(namespace) > 63):
        raise ManifestError(f"{settings.namespace!r} is not a Kubernetes namespace (lower-case letters, digits "
                            "and '-', at most 63)", key=f"{env_key}.namespace")
    if not _DNS_1035.match(release.service):
        raise ManifestError(f"{release.service!r} cannot name a Kubernetes Service: it must start with a letter",
                            key=f"metarepo.projects.{release.project}.service")
    from metarepo.images.kubernetes_ingress import release_route

    routed = release_route(release)
    declared = release.port if release.port is not None else port_setting(release.project, release.settings)
    if declared is None and routed is not None and "port" in (release.settings.get("route") or {}):
        declared = routed.port  # the route names the container port: the Service's too
    if declared is not None and (isinstance(declared, bool) or not isinstance(declared, int)
                                 or not 1 <= declared <= 65535):
        raise ManifestError(f"must be a port number (1-65535), not {declared!r}",
                            key=f"metarepo.projects.{release.project}.port")
    port = declared if declared is not None else DEFAULT_PORT
    route = _ingress(routed, settings, port)

    common = {"app.kubernetes.io/name": release.service}
    part_of = _label_value(meta_root.name.lower() if meta_root is not None else "")
    if part_of:
        common["app.kubernetes.io/part-of"] = part_of
    common["app.kubernetes.io/managed-by"] = "metarepo"
    release_labels = dict(common)
    for key, value in (("app.kubernetes.io/version", release.version or ""), ("metarepo.io/sha", release.sha),
                       ("metarepo.io/environment", settings.name)):
        if _label_value(value) == value and value:
            release_labels[key] = value
    annotations = {"metarepo.io/project": release.project, "metarepo.io/image": release.image}
    if release.version:
        annotations["metarepo.io/version"] = release.version
    cause = f"meta rollout {settings.name}: {release.project} {release.version or ''} ({release.sha[:12]})"
    update = release.update
    start_first = update.order == "start-first"
    return {
        "name": release.service, "namespace": settings.namespace, "project": release.project,
        "environment": settings.name, "sha": release.sha, "version": release.version or "",
        "image": release.pinned, "replicas": release.replicas,
        "labels": release_labels, "pod_labels": release_labels, "selector": {"app.kubernetes.io/name": release.service},
        "service_labels": {**common, **({"metarepo.io/environment": settings.name}
                                        if "metarepo.io/environment" in release_labels else {})},
        "annotations": {**annotations, "kubernetes.io/change-cause": " ".join(cause.split())},
        "pod_annotations": annotations, "service_annotations": {"metarepo.io/project": release.project},
        "max_unavailable": 0 if start_first else update.parallelism,
        "max_surge": update.parallelism if start_first else 0,
        "min_ready": math.ceil(update.monitor), "progress_deadline": math.ceil(release.timeout),
        "port": port, "port_name": PORT_NAME, "probe": _probe(release, declared),
        "route": route is not None, **(route or {}),
    }


def _ingress(route: Any, settings: EnvironmentSettings, port: int) -> dict | None:
    """The Ingress values of a routed release (``kubernetes_ingress.py``), None when it is not routed."""
    from metarepo.images.kubernetes_ingress import ingress_values
    from metarepo.proxy.settings import proxy_of

    if route is None:
        return None
    return ingress_values(route, proxy_of(settings.name, settings.raw or {}), port)


def port_setting(project: str, settings: Mapping[str, Any]) -> int | None:
    """The project's ``port`` setting (the container port its Service exposes), checked; None when unset."""
    value = settings.get("port")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ManifestError(f"must be a port number (1-65535), not {value!r}", key=f"metarepo.projects.{project}.port")
    return value


def kubernetes_version(settings: EnvironmentSettings) -> str:
    """The Kubernetes version manifests are validated against: the environment's ``kubernetes_version``."""
    value = settings.raw.get("kubernetes_version", KUBERNETES_VERSION) if settings.raw else KUBERNETES_VERSION
    known = _known_versions()
    if not isinstance(value, str) or value.removeprefix("v") not in known:
        raise ManifestError(f"kubernetes-validate has no schemas for {value!r}; choose one of {known[0]} to "
                            f"{known[-1]}", key=f"metarepo.environments.{settings.name}.kubernetes_version")
    return value.removeprefix("v")


@functools.lru_cache(maxsize=1)
def _known_versions() -> list[str]:
    try:
        from kubernetes_validate.utils import all_versions, major_minor
    except ImportError:
        raise UsageError("Kubernetes manifests are validated with the 'kubernetes-validate' package",
                         hint="pip install 'metarepo[kubernetes]'") from None

    return sorted({major_minor(v) for v in all_versions()}, key=lambda v: tuple(int(p) for p in v.split(".")))


def _probe(release: Release, declared_port: int | None) -> dict | None:
    """The readiness probe: the image's HEALTHCHECK as an exec probe, else TCP on a declared port, else none."""
    check = release.healthcheck
    if check is not None and check.test and check.test[0] != "NONE" and check.command:
        return {"command": list(check.command), "initial_delay": math.ceil(check.start_period),
                "period": max(1, math.ceil(check.interval)), "timeout": max(1, math.ceil(check.timeout)),
                "failure_threshold": max(1, check.retries)}
    if declared_port is not None:  # Kubernetes' own probe defaults, written out
        return {"command": [], "port": PORT_NAME, "initial_delay": 0, "period": 10, "timeout": 1,
                "failure_threshold": 3}
    return None


def _label_value(text: str) -> str:
    """``text`` if it is a valid label value, else the nearest one (invalid characters become '-')."""
    text = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", text)


# -- parsing and validation --------------------------------------------------------


def _parse(text: str) -> dict[str, Any]:
    return parse_yaml(text, "manifest")


def _line(text: str, problem: Problem) -> int | None:
    return problem.line if problem.line is not None else line_at(text, problem.path)


def _expect(document: dict[str, Any], kind: str, name: str) -> None:
    metadata = document.get("metadata")
    if document.get("kind") != kind or not isinstance(metadata, dict) or metadata.get("name") != name:
        raise Problem(f"this template must render the {kind} named {name!r} (`meta rollout` waits for it "
                       "by that name)", ("kind",))


def _validate_schema(document: dict[str, Any], version: str) -> None:
    import jsonschema

    api_version, kind = document.get("apiVersion"), document.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise Problem("a manifest needs apiVersion and kind", ("apiVersion",))
    validator = schema_validator(version, kind, api_version)
    if validator is None:
        raise Problem(f"kubernetes-validate has no schema for {kind} {api_version} in Kubernetes {version}",
                       ("apiVersion",))
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = error.schema.get("properties") or {}
            path += tuple(key for key in error.instance if key not in known)[:1]  # point at the unknown key
        at = ".".join(str(p) for p in path) or "(top)"
        message = error.message if len(error.message) <= 200 else error.message[:199] + "…"
        raise Problem(f"Kubernetes {version} schema (strict): at {at}: {message}", path)


@functools.lru_cache(maxsize=32)
def schema_validator(version: str, kind: str, api_version: str) -> Any:
    """The strict schema kubernetes-validate ships for ``kind`` in Kubernetes ``version``, compiled once.

    This is what ``kubernetes_validate.validate(document, version, strict=True)``
    checks, and how (its schema files, loader and draft 2020-12 validator,
    with ``$ref`` resolved only inside the shipped definitions), but the 1.3 MB
    of definitions are read once per run instead of once per object: that
    reading was 85% of the time to render a fleet. ``tests/images`` checks
    that both give the same verdict and message.
    """
    import jsonschema
    import referencing
    from kubernetes_validate.utils import all_versions, major_minor, schema_contents

    full = [v for v in all_versions() if major_minor(v) == version][-1]
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{full}-local-strict"
    try:
        schema = schema_contents(f"{folder}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:
        return None
    definitions = schema_contents(f"{folder}/_definitions.json", version)
    registry = referencing.Resource.from_contents(schema) @ referencing.Registry()
    registry = referencing.Resource.from_contents(definitions) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def _check(document: dict[str, Any], service: Mapping[str, Any] | None) -> None:
    """What the API server refuses (or a Service silently gets wrong) that the schema does not say."""
    metadata = document["metadata"]
    for where in ("labels", "annotations"):
        for key, value in (metadata.get(where) or {}).items():
            _check_key(key, ("metadata", where, key))
            if where == "labels":
                _check_label_value(value, ("metadata", where, key))
    spec = document.get("spec") or {}
    if document["kind"] == "Ingress":
        from metarepo.images.kubernetes_ingress import check_ingress

        return check_ingress(document, service)
    if document["kind"] == "Service":
        for key, value in (spec.get("selector") or {}).items():
            _check_key(key, ("spec", "selector", key))
            _check_label_value(value, ("spec", "selector", key))
        return
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    for key, value in template_labels.items():
        _check_key(key, ("spec", "template", "metadata", "labels", key))
        _check_label_value(value, ("spec", "template", "metadata", "labels", key))
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    for key, value in selector.items():
        if template_labels.get(key) != value:
            raise Problem(f"the selector {key}={value} does not match the pod template's labels",
                           ("spec", "selector", "matchLabels", key))
    if service is not None:
        for key, value in ((service.get("spec") or {}).get("selector") or {}).items():
            if template_labels.get(key) != value:
                raise Problem(f"the Service selects {key}={value}, which these pods are not labelled with",
                               ("spec", "template", "metadata", "labels"))
        names = {p.get("name") for c in (spec.get("template") or {}).get("spec", {}).get("containers", [])
                 for p in c.get("ports") or []}
        for port in (service.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort")
            if isinstance(target, str) and target not in names:
                raise Problem(f"the Service's targetPort {target!r} names no port of the pods",
                               ("spec", "template", "spec", "containers"))
    deadline, ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds", 0)
    if isinstance(deadline, int) and isinstance(ready, int) and deadline <= ready:
        raise Problem(f"progressDeadlineSeconds ({deadline}) must be greater than minReadySeconds ({ready}): "
                       "raise the environment's `timeout` or lower `update.monitor`", ("spec", "progressDeadlineSeconds"))
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    if rolling.get("maxSurge") in (0, "0%") and rolling.get("maxUnavailable") in (0, "0%"):
        raise Problem("maxSurge and maxUnavailable cannot both be 0", ("spec", "strategy", "rollingUpdate"))


def _check_key(key: Any, path: tuple[Any, ...]) -> None:
    match = _QUALIFIED.match(str(key))
    if not match or len(match.group("name")) > 63 or len(match.group("prefix") or "") > 253:
        raise Problem(f"{key!r} is not a valid label or annotation key (an optional DNS prefix and '/', then "
                       "at most 63 letters, digits, '-', '_' or '.')", path)


def _check_label_value(value: Any, path: tuple[Any, ...]) -> None:
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
        raise Problem(f"{value!r} is not a valid label value (at most 63 letters, digits, '-', '_' or '.', "
                       "starting and ending with a letter or digit); put it in an annotation", path)
