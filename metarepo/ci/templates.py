"""Where templates come from: the meta repo's ``ci-templates/`` first, then the built-in ones.

A meta repo's file overrides the built-in file of the same name, whole. To
replace one stage and keep the rest, an override extends the built-in
template by its ``builtin/`` name and redefines one block::

    {% extends "builtin/github/cd.yml.j2" %}
    {% block test %}...{% endblock %}
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metarepo.ci.escape import finalizer, identifier, verbatim

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "ci_templates"
OVERRIDE_DIR = "ci-templates"


@dataclass(frozen=True)
class Output:
    """One file a provider's pipeline consists of."""

    template: str  # the template name, e.g. "github/cd.yml.j2"
    path: str  # where it goes in the project, e.g. ".github/workflows/cd.yml"
    dialect: str  # how values are escaped: yaml, github, circleci or groovy
    comment: str  # how the header comments


OUTPUTS: dict[str, tuple[Output, ...]] = {
    "github": (Output("github/cd.yml.j2", ".github/workflows/cd.yml", "github", "#"),),
    "circleci": (Output("circleci/config.yml.j2", ".circleci/config.yml", "circleci", "#"),),
    "gitlab": (Output("gitlab/gitlab-ci.yml.j2", ".gitlab-ci.yml", "yaml", "#"),),
    "jenkins": (Output("jenkins/Jenkinsfile.j2", "Jenkinsfile", "groovy", "//"),),
}


def all_output_paths() -> set[str]:
    return {o.path for outputs in OUTPUTS.values() for o in outputs}


def template_environment(meta_root: Path | None, dialect: str) -> Any:
    """A Jinja environment for ``dialect`` over the override and built-in folders.

    One per (meta repo, dialect), so each template is compiled once per run
    however many projects use it (Jinja still reloads a file that changed).
    """
    return _environment(str(meta_root) if meta_root is not None else None, dialect)


@functools.lru_cache(maxsize=16)
def _environment(meta_root: str | None, dialect: str) -> Any:
    import jinja2

    loaders: list[Any] = []
    if meta_root is not None and (Path(meta_root) / OVERRIDE_DIR).is_dir():
        loaders.append(jinja2.FileSystemLoader(str(Path(meta_root) / OVERRIDE_DIR)))
    builtin = jinja2.FileSystemLoader(str(BUILTIN_DIR))
    loaders += [jinja2.PrefixLoader({"builtin": builtin}), builtin]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        finalize=finalizer(dialect),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["identifier"] = identifier
    env.filters["verbatim"] = verbatim
    return env


def template_origin(meta_root: Path | None, name: str) -> str:
    """Where ``name`` is read from, as a header shows it: ``meta repo`` or ``built-in``."""
    if meta_root is not None and (Path(meta_root) / OVERRIDE_DIR / name).is_file():
        return "meta repo"
    return "built-in"
