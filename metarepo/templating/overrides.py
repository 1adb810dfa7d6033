"""The check Jinja does not make: an override's ``{% block %}`` must exist in the template it extends.

Jinja ignores a block the parent does not have, so a misspelt stage
(``tset``) would leave the built-in stage in place with nothing said.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from metarepo.errors import ManifestError
from metarepo.templating.environment import BUILTIN_DIR

_checked: set[tuple[str, int]] = set()


def check_override_blocks(env: Any, template: Any) -> None:
    """Refuse an override's block that the template it extends does not have, or an override extending itself.

    Checked once per file version; only for templates that extend another by
    a constant name. The built-in templates are not checked.
    """
    from jinja2 import nodes

    filename = template.filename
    if not filename or _is_builtin(filename):
        return
    stamp = (filename, Path(filename).stat().st_mtime_ns)
    if stamp in _checked:
        return
    tree = env.parse(env.loader.get_source(env, template.name)[0])
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


@functools.lru_cache(maxsize=256)
def _is_builtin(filename: str) -> bool:
    return Path(filename).resolve().is_relative_to(BUILTIN_DIR)


def _blocks_of(env: Any, name: str, seen: set[str]) -> set[str]:
    """Every block ``name`` and the templates it extends define (``seen``: files already on the chain)."""
    from jinja2 import nodes

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
