"""The per-project values a pipeline template sees, read from the manifest and checked.

``ci`` (provider), ``test``, ``image``, ``branch``, ``registry`` and free
``vars`` come from the project's settings (defaults merged). Values that are
free text (the project's name, the test command, var values) are escaped by
the template dialect (for Jenkins, which expands ``$`` in ``environment`` values
whatever the quoting, a ``$`` in the name or a var is refused); values that name things (a branch, an image, a var's
name) must be valid names, and a bad one is refused here with the manifest
key that holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from metarepo.ci import PROVIDERS
from metarepo.errors import ManifestError
from metarepo.image_reference import image_repository, split_reference  # as `meta build` names the image
from metarepo.manifest import Manifest, Project
from metarepo.templating.escape import IDENTIFIER

_BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]+(?<![./])$")


@dataclass(frozen=True)
class PipelineValues:
    """What a template renders with, for one project."""

    project: str
    service: str
    provider: str
    test: str
    branch: str
    image: str  # the full repository, registry included; tagged with the commit SHA by the pipeline
    vars: Mapping[str, Any] = field(default_factory=dict)

    @property
    def registry_host(self) -> str:
        """The registry ``docker login`` must name: the image's domain, or "" for Docker Hub."""
        return split_reference(self.image).registry_host

    def as_context(self) -> dict[str, Any]:
        return {"project": self.project, "service": self.service, "provider": self.provider,
                "test": self.test, "branch": self.branch, "image": self.image,
                "registry_host": self.registry_host, "vars": dict(self.vars)}


def provider_of(manifest: Manifest, project: Project, override: str | None = None) -> str:
    provider = override if override is not None else project.setting("ci")
    key = _key(project, "ci")
    if provider is None:
        raise ManifestError("no CI provider set (jenkins, circleci, github or gitlab)", file=str(manifest.file),
                            key=key, hint="set it, or pass --provider")
    if provider not in PROVIDERS:
        raise ManifestError(f"unknown CI provider {provider!r}; choose one of {', '.join(PROVIDERS)}",
                            file=str(manifest.file), key=key)
    return provider


def values_for(manifest: Manifest, project: Project, provider: str | None = None,
               branch_from_git: str | None = None) -> PipelineValues:
    """Read and check ``project``'s pipeline values; ``branch_from_git`` fills a missing ``branch``."""
    file = str(manifest.file)
    provider = provider_of(manifest, project, provider)
    service = project.name.rstrip("/").rsplit("/", 1)[-1]

    test = project.setting("test")
    if not isinstance(test, str) or not test.strip():
        raise ManifestError("no test command: set 'test' (for example \"make test\")", file=file,
                            key=_key(project, "test"))

    branch = project.setting("branch") or branch_from_git
    if not branch:
        raise ManifestError("no default branch known (the clone has no origin/HEAD)", file=file,
                            key=_key(project, "branch"), hint="set 'branch' to the branch that deploys")
    if not isinstance(branch, str) or not _BRANCH.match(branch):
        raise ManifestError(f"{branch!r} is not a branch name a pipeline can match", file=file,
                            key=_key(project, "branch"))

    image = image_repository(project)  # an image with its own registry keeps it

    raw_vars = project.setting("vars") or {}
    if not isinstance(raw_vars, Mapping):
        raise ManifestError("'vars' must be an object of name to value", file=file, key=_key(project, "vars"))
    checked: dict[str, Any] = {}
    for name, value in raw_vars.items():
        if not isinstance(name, str) or not IDENTIFIER.match(name):
            raise ManifestError(f"{name!r} is not a valid variable name (letters, digits and _)", file=file,
                                key=_key(project, f"vars.{name}"))
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ManifestError("a var's value must be a string or a number", file=file,
                                key=_key(project, f"vars.{name}"))
        checked[name] = value if isinstance(value, str) else str(value)
    if provider == "jenkins":
        _refuse_dollar(project.name, file, f"projects.{project.name}")
        for name, value in checked.items():
            _refuse_dollar(value, file, _key(project, f"vars.{name}"))
    return PipelineValues(project=project.name, service=service, provider=provider, test=test,
                          branch=branch, image=image, vars=checked)


def _refuse_dollar(text: str, file: str, key: str) -> None:
    """Jenkins' ``environment { }`` resolves ``$NAME`` in a value and evaluates ``${...}`` as Groovy,
    even in a single-quoted string, so no quoting keeps a ``$`` literal there."""
    if "$" in text:
        raise ManifestError("a Jenkins pipeline cannot hold '$' in an environment value (Jenkins expands "
                            "$NAME and evaluates ${...} there); remove it", file=file, key=key)


def _key(project: Project, name: str) -> str:
    return f"metarepo.projects.{project.name}.{name}"
