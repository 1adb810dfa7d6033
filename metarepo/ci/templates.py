"""Which templates a provider's pipeline is rendered from, and where each file goes in the project.

The templates themselves are found, sandboxed and overridden by
``metarepo.templating``: the meta repo's ``ci-templates/`` first, whole or
block by block, then the built-in ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from metarepo.templating.escape import Dialect


@dataclass(frozen=True)
class Output:
    """One file a provider's pipeline consists of."""

    template: str  # the template's name, e.g. "github/cd.yml.j2"
    path: str  # where it goes in the project, e.g. ".github/workflows/cd.yml"
    dialect: Dialect  # how values are escaped
    comment: str  # how the header comments


OUTPUTS: dict[str, tuple[Output, ...]] = {
    "github": (Output("github/cd.yml.j2", ".github/workflows/cd.yml", Dialect.GITHUB, "#"),),
    "circleci": (Output("circleci/config.yml.j2", ".circleci/config.yml", Dialect.CIRCLECI, "#"),),
    "gitlab": (Output("gitlab/gitlab-ci.yml.j2", ".gitlab-ci.yml", Dialect.YAML, "#"),),
    "jenkins": (Output("jenkins/Jenkinsfile.j2", "Jenkinsfile", Dialect.GROOVY, "//"),),
    "travis": (Output("travis/travis.yml.j2", ".travis.yml", Dialect.YAML, "#"),),
}


def all_output_paths() -> set[str]:
    return {o.path for outputs in OUTPUTS.values() for o in outputs}
