"""Where templates come from: the meta repo's ``ci-templates/`` first, then the built-in ones.

A meta repo's file overrides the built-in file of the same name, whole. To
replace one stage and keep the rest, an override extends the built-in
template by its ``builtin/`` name and redefines one block::

    {% extends "builtin/github/cd.yml.j2" %}
    {% block test %}...{% endblock %}

A block the extended template does not have (a misspelt stage) is refused,
where Jinja alone would ignore it.
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


_checked: set[tuple[str, int]] = set()


def check_override_blocks(env: Any, template: Any) -> None:
    """Refuse an override's ``{% block %}`` that the template it extends does not have.

    Jinja ignores such a block silently, so a misspelt stage (``tset``) would
    leave the built-in stage in place with nothing said. Checked once per file
    version; only for templates that extend another by a constant name.
    """
    from jinja2 import nodes

    from metarepo.errors import ManifestError

    filename = template.filename
    if not filename or Path(filename).resolve().is_relative_to(BUILTIN_DIR):
        return
    stamp = (filename, Path(filename).stat().st_mtime_ns)
    if stamp in _checked:
        return
    tree = env.parse(Path(filename).read_text(encoding="utf-8"))
    extends = tree.find(nodes.Extends)
    if extends is None or not isinstance(extends.template, nodes.Const):
        _checked.add(stamp)
        return
    parent_name = extends.template.value
    if env.get_template(parent_name).filename == filename:
        raise ManifestError(f"this override extends itself ({parent_name!r} is this file); extend the built-in "
                            f"one as \"builtin/{template.name}\"", file=filename, line=extends.lineno)
    known = _blocks_of(env, parent_name, {filename})
    for block in _own_blocks(tree):
        if block.name not in known:
            raise ManifestError(f"block {block.name!r} is not in {parent_name!r}, so it would be ignored; its blocks "
                                f"are {', '.join(sorted(known))}", file=filename, line=block.lineno)
    _checked.add(stamp)


def _blocks_of(env: Any, name: str, seen: set[str]) -> set[str]:
    """Every block ``name`` and the templates it extends define (``seen``: files already on the chain)."""
    from jinja2 import nodes

    from metarepo.errors import ManifestError

    template = env.get_template(name)
    if template.filename in seen:
        raise ManifestError(f"templates extend each other in a circle through {name!r}", file=template.filename)
    names = set(template.blocks)
    extends = env.parse(env.loader.get_source(env, name)[0]).find(nodes.Extends)
    if extends is not None and isinstance(extends.template, nodes.Const):
        names |= _blocks_of(env, extends.template.value, seen | {template.filename})
    return names


def _own_blocks(node: Any) -> list[Any]:
    """The blocks a child template redefines: those not nested inside another block."""
    from jinja2 import nodes

    found = []
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Block):
            found.append(child)
        else:
            found.extend(_own_blocks(child))
    return found
