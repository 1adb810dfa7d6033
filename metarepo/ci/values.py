"""The per-project values a pipeline template sees, read from the manifest and checked.

``ci`` (provider), ``test``, ``image``, ``branch``, ``registry`` and free
``vars`` come from the project's settings (defaults merged); so does how a
runner gets metarepo and the meta repo (``ci_install``, ``ci_image``,
``meta_repo``, ``meta_branch``: see ``RunnerSetup``). Values that are
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
from metarepo.urls import has_credential, unsafe_reason, without_credential

_BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]+(?<![./])$")


@dataclass(frozen=True)
class MetaRepoSource:
    """Where runners clone the meta repo from when the manifest does not say: this meta repo's origin."""

    url: str | None
    branch: str | None


def meta_repo_source(manifest: Manifest) -> MetaRepoSource:
    """This meta repo's ``origin`` (without any credential in it) and its default branch, as far as git knows."""
    from metarepo import git

    url = git.remote_url(manifest.root)
    if url is None:
        return MetaRepoSource(None, None)
    branch = git.default_branch(manifest.root)
    if branch is None:
        proc = git.run_git(["symbolic-ref", "--quiet", "--short", "HEAD"], cwd=manifest.root, check=False)
        branch = proc.stdout.strip() or None
    return MetaRepoSource(without_credential(url), branch)


@dataclass(frozen=True)
class RunnerSetup:
    """How a pipeline's runner gets ``meta`` and the meta repo before a job runs ``meta``.

    ``install`` is what pip installs into a virtualenv on the runner (a
    version pin from the runner's index, a git URL, a wheel's URL or path);
    "" when the runner's image already has ``meta`` (``image``, or the CI
    system's own runner image). ``repo`` and ``branch``: the meta repo the
    job clones. ``image``: the image for the jobs that run ``meta`` where the
    CI system runs jobs in one ("" for the template's default).
    """

    install: str = ""
    repo: str = ""
    branch: str = ""
    image: str = ""


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
    setup: RunnerSetup = RunnerSetup()

    @property
    def registry_host(self) -> str:
        """The registry ``docker login`` must name: the image's domain, or "" for Docker Hub."""
        return split_reference(self.image).registry_host

    def as_context(self) -> dict[str, Any]:
        return {"project": self.project, "service": self.service, "provider": self.provider,
                "test": self.test, "branch": self.branch, "image": self.image,
                "registry_host": self.registry_host, "vars": dict(self.vars),
                "install": self.setup.install, "meta_repo": self.setup.repo, "meta_branch": self.setup.branch,
                "ci_image": self.setup.image}


def provider_of(manifest: Manifest, project: Project, override: str | None = None) -> str:
    provider = override if override is not None else project.setting("ci")
    key = _key(project, "ci")
    if provider is None:
        raise ManifestError("no CI provider set (jenkins, circleci, github, gitlab or travis)", file=str(manifest.file),
                            key=key, hint="set it, or pass --provider")
    if provider not in PROVIDERS:
        raise ManifestError(f"unknown CI provider {provider!r}; choose one of {', '.join(PROVIDERS)}",
                            file=str(manifest.file), key=key)
    return provider


def values_for(manifest: Manifest, project: Project, provider: str | None = None,
               branch_from_git: str | None = None, meta_source: MetaRepoSource | None = None) -> PipelineValues:
    """Read and check ``project``'s pipeline values; ``branch_from_git`` fills a missing ``branch``, and
    ``meta_source`` (default: asked of git) a missing ``meta_repo`` or ``meta_branch``."""
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
    setup = runner_setup(manifest, project, meta_source)
    if provider == "jenkins":
        _refuse_dollar(project.name, file, f"projects.{project.name}")
        for name, value in checked.items():
            _refuse_dollar(value, file, _key(project, f"vars.{name}"))
        for name, value in (("ci_install", setup.install), ("meta_repo", setup.repo)):
            _refuse_dollar(value, file, _key(project, name))
    return PipelineValues(project=project.name, service=service, provider=provider, test=test,
                          branch=branch, image=image, vars=checked, setup=setup)


def runner_setup(manifest: Manifest, project: Project, meta_source: MetaRepoSource | None = None) -> RunnerSetup:
    """``ci_install``, ``ci_image``, ``meta_repo`` and ``meta_branch`` for ``project``, checked."""
    file = str(manifest.file)
    install = project.setting("ci_install")
    if install is None or install is False:
        install = ""
    elif not isinstance(install, str) or not install.strip() or install.startswith("-") or \
            any(ch in install for ch in "\n\r\0"):
        raise ManifestError("'ci_install' must be what pip installs (\"metarepo==1.2.0\", \"metarepo @ git+https://"
                            "...\", a wheel), or false when the runner image has meta", file=file,
                            key=_key(project, "ci_install"))

    image = project.setting("ci_image") or ""
    if image:
        from metarepo.image_reference import InvalidReference, parse_reference

        try:
            parse_reference(image)
        except InvalidReference as exc:
            raise ManifestError(f"{image!r} is not an image the runner can run ({exc})", file=file,
                                key=_key(project, "ci_image")) from None

    repo, branch = project.setting("meta_repo"), project.setting("meta_branch")
    if repo is None or branch is None:
        source = meta_source if meta_source is not None else meta_repo_source(manifest)
        repo = source.url if repo is None else repo
        branch = source.branch if branch is None else branch
    if repo is None:
        raise ManifestError("no URL for the runners to clone the meta repo from (it has no origin)", file=file,
                            key=_key(project, "meta_repo"), hint="set metarepo.defaults.meta_repo")
    why = unsafe_reason(repo) if isinstance(repo, str) else "is not a string"
    if why is None and has_credential(repo):
        why = "carries a password or token, which every pipeline file would show; give the runners their own"
    if why:
        raise ManifestError(f"the meta repo URL {why}", file=file, key=_key(project, "meta_repo"))
    if not branch:
        raise ManifestError("no branch known for the meta repo", file=file, key=_key(project, "meta_branch"),
                            hint="set metarepo.defaults.meta_branch")
    if not isinstance(branch, str) or not _BRANCH.match(branch):
        raise ManifestError(f"{branch!r} is not a branch name", file=file, key=_key(project, "meta_branch"))
    return RunnerSetup(install=install, repo=repo, branch=branch, image=image)


def _refuse_dollar(text: str, file: str, key: str) -> None:
    """Jenkins' ``environment { }`` resolves ``$NAME`` in a value and evaluates ``${...}`` as Groovy,
    even in a single-quoted string, so no quoting keeps a ``$`` literal there."""
    if "$" in text:
        raise ManifestError("a Jenkins pipeline cannot hold '$' in an environment value (Jenkins expands "
                            "$NAME and evaluates ${...} there); remove it", file=file, key=key)


def _key(project: Project, name: str) -> str:
    return f"metarepo.projects.{project.name}.{name}"
