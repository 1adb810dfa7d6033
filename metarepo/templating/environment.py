"""Where templates come from, and the sandbox they render in.

A template is looked up in the meta repo's ``ci-templates/`` first, then in
the built-in ones (``metarepo/ci_templates/``). A meta repo's file overrides
the built-in file of the same name, whole. To replace one block and keep
the rest, an override extends the built-in template by its ``builtin/``
name and redefines that block (checked by ``overrides.py``)::

    {% extends "builtin/github/cd.yml.j2" %}
    {% block test %}...{% endblock %}

A meta repo is cloned from someone else, so its templates are untrusted
input. They render in Jinja's ``ImmutableSandboxedEnvironment``: no
attribute that starts with ``_`` (the walk from a global to ``os``), no
method that changes a value, ``range`` capped, and here ``*`` and ``**``
too, so one expression cannot fill the memory. A template file is read only
when its real path stays inside its folder (and ``ci-templates/`` inside the
meta repo), so a symlink cannot bring in a file from elsewhere on the
machine (an SSH key, say) to be written into a pipeline and pushed.
"""

from __future__ import annotations

import functools
import math
import os
from enum import Enum
from pathlib import Path
from typing import Any

from metarepo.templating.escape import Dialect, finalizer, identifier, shell, verbatim

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "ci_templates"
OVERRIDE_DIR = "ci-templates"  # in the meta repo
MAX_ITEMS = 1_000_000  # the longest string or list a `*` may make
MAX_POWER_BITS = 4096  # the largest number a `**` may make, in bits


class Origin(Enum):
    """Where a template was read from, as a generated file's header says."""

    META_REPO = "meta repo"
    BUILTIN = "built-in"


def template_origin(meta_root: Path | None, name: str) -> Origin:
    """Whether ``name`` is read from the meta repo's ``ci-templates/`` or is the built-in one."""
    if meta_root is not None and (Path(meta_root) / OVERRIDE_DIR / name).is_file():
        return Origin.META_REPO
    return Origin.BUILTIN


def template_environment(meta_root: Path | None, dialect: Dialect) -> Any:
    """The sandboxed Jinja environment for ``dialect`` over the override and built-in folders.

    One per (meta repo, dialect), so each template is compiled once per run
    however many files use it (Jinja still reloads a file that changed).
    """
    return _environment(str(meta_root) if meta_root is not None else None, dialect)


@functools.lru_cache(maxsize=16)
def _environment(meta_root: str | None, dialect: Dialect) -> Any:
    import jinja2

    loaders: list[Any] = []
    if meta_root is not None and (Path(meta_root) / OVERRIDE_DIR).is_dir():
        overrides = Path(meta_root) / OVERRIDE_DIR
        if not _inside(os.path.realpath(overrides), os.path.realpath(meta_root)):
            from metarepo.errors import ManifestError

            raise ManifestError(f"leads outside the meta repo (a symlink to {os.path.realpath(overrides)}); "
                                "the templates must be in it", file=str(overrides))
        loaders.append(_contained_loader(overrides))
    builtin = _contained_loader(BUILTIN_DIR)
    loaders += [jinja2.PrefixLoader({"builtin": builtin}), builtin]
    env = _sandbox_class()(
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
    env.filters["shell"] = shell
    return env


@functools.lru_cache(maxsize=1)
def _sandbox_class() -> type:
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class BoundedSandbox(ImmutableSandboxedEnvironment):  # type: ignore[misc]
        """The immutable sandbox, refusing at once, with ``*`` and ``**`` bounded (Jinja's documented way)."""

        intercepted_binops = frozenset(["*", "**"])

        def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
            # Jinja returns an undefined here, which a filter such as `attr` or `default` can pass on
            # until a later error names something else; the attempt itself is what the user must see.
            what = f"the class {obj.__name__}" if isinstance(obj, type) else f"a {type(obj).__name__} value"
            raise SecurityError(f"access to attribute {attribute!r} of {what} is unsafe")

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "*":
                items, times = (left, right) if isinstance(left, _SEQUENCES) else (right, left)
                if isinstance(items, _SEQUENCES) and isinstance(times, int) and len(items) * times > MAX_ITEMS:
                    raise SecurityError(f"a `*` here would make more than {MAX_ITEMS:,} items")
            elif _is_number(left) and _is_number(right) and abs(left) > 1 and right > 0 and \
                    right * math.log2(abs(left)) > MAX_POWER_BITS:
                raise SecurityError(f"{left!r} ** {right!r} is larger than a template may compute")
            return super().call_binop(context, operator, left, right)

    return BoundedSandbox


_SEQUENCES = (str, list, tuple)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([root, path]) == root


def _contained_loader(folder: Path) -> Any:
    """A ``FileSystemLoader`` over ``folder`` that refuses a file whose real path leaves it."""
    import jinja2

    root = os.path.realpath(folder)

    class ContainedLoader(jinja2.FileSystemLoader):
        def get_source(self, environment: Any, template: str) -> Any:
            source = super().get_source(environment, template)
            real = os.path.realpath(source[1])
            if not _inside(real, root):
                from metarepo.errors import ManifestError

                raise ManifestError(f"{template!r} leads outside {folder} (a symlink to {real}); a template "
                                    "may only read files in its folder", file=source[1])
            return source

    return ContainedLoader(str(folder))
