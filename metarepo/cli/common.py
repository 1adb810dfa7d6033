"""What every fleet command shares: the selection flags, the manifest, JSON output."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable

import click

from metarepo.cli.app import application
from metarepo.errors import UsageError
from metarepo.manifest import Manifest, Project, Selection, load_manifest


class Seconds(click.ParamType):
    """A time limit in seconds: a finite number above zero (``inf`` and ``nan`` are refused)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float) and math.isfinite(value) and value > 0:
            return value
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r} is not a time limit: give a finite number of seconds above 0", param, ctx)
        return seconds


SECONDS = Seconds()


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def selection_options(func: Callable[..., Any]) -> Any:
    """``--include-only``, ``--exclude``, patterns, ``--tag``, ``-j``: npm meta names first."""
    options = [
        click.option("--include-only", "include_only", multiple=True, metavar="A,B",
                     help="Only these projects (folder or last name, comma-separated)."),
        click.option("--exclude", "exclude", multiple=True, metavar="A,B", help="Not these projects."),
        click.option("--include-pattern", metavar="RE", help="Only projects whose folder matches RE."),
        click.option("--exclude-pattern", metavar="RE", help="Not projects whose folder matches RE."),
        click.option("--tag", "tags", multiple=True, metavar="T", help="Only projects with tag T (repeatable)."),
        click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, envvar="META_JOBS",
                     help="How many at once (default: cores; META_JOBS)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def selection_from(kwargs: dict[str, Any], only: tuple[str, ...] | None = None) -> Selection:
    return Selection(
        include_only=_split(kwargs.pop("include_only", ()) or ()),
        exclude=_split(kwargs.pop("exclude", ()) or ()),
        include_pattern=kwargs.pop("include_pattern", None),
        exclude_pattern=kwargs.pop("exclude_pattern", None),
        tags=_split(kwargs.pop("tags", ()) or ()),
        only=only,
    )


def manifest_from(ctx: click.Context) -> Manifest:
    return load_manifest(application(ctx).root)


def select(ctx: click.Context, kwargs: dict[str, Any], only: tuple[str, ...] | None = None
           ) -> tuple[Manifest, list[Project]]:
    """Load the manifest and apply the selection flags found in ``kwargs`` (consumed).

    Flags that together select nothing from a manifest that has projects are
    bad input (exit 2), named in one line; a manifest with no projects, or an
    ``only`` list that names none of them, is just an empty fleet.
    """
    manifest = manifest_from(ctx)
    selection = selection_from(kwargs, only)
    chosen = selection.apply(manifest.projects)
    if not chosen and manifest.projects and any(getattr(selection, field) for field in _SELECTION_FLAGS):
        raise UsageError(nothing_selected(ctx, selection, manifest.projects))
    return manifest, chosen


_SELECTION_FLAGS = {"include_only": "--include-only", "exclude": "--exclude", "include_pattern": "--include-pattern",
                    "exclude_pattern": "--exclude-pattern", "tags": "--tag"}


def nothing_selected(ctx: click.Context, selection: Selection, projects: list[Project]) -> str:
    """Which of the given flags selected nothing: each one that does alone, else all of them together."""
    names = {p.name for p in projects}
    among = "" if selection.only is None else (
        f" among the {len(selection.only)} project(s) that failed last time" if set(selection.only) & names
        else " (none of the projects that failed last time is in .meta any more)")
    given = {field: value for field in _SELECTION_FLAGS if (value := getattr(selection, field))}
    flags = {param.name: param.opts[0] for param in ctx.command.params if param.name in _SELECTION_FLAGS}

    def shown(field: str) -> str:
        value = given[field]
        return f"{flags.get(field, _SELECTION_FLAGS[field])} {','.join(value) if isinstance(value, tuple) else value}"

    alone = [field for field in given
             if not replace(Selection(only=selection.only), **{field: given[field]}).apply(projects)]
    hint = ""
    if "tags" in alone:
        known = sorted({tag for p in projects for tag in p.tags})
        hint = f" (tags in .meta: {', '.join(known)})" if known else " (no project in .meta has a tag)"
    if alone:
        culprits = " and ".join(shown(field) for field in alone)
        verb = "selects" if len(alone) == 1 else "each select"
        return f"{culprits} {verb} no project{among}{hint}"
    return f"{' and '.join(shown(field) for field in given)} together select no project{among}"


def jobs_from(kwargs: dict[str, Any], default: int | None = None) -> int:
    from metarepo.runner import default_jobs

    return kwargs.pop("jobs", None) or default or default_jobs()


def json_option(func: Callable[..., Any] | None = None, *, help: str = "Print one JSON document.") -> Any:
    """The one ``--json`` flag: passed on as ``as_json``, and it tells the Application (no progress bar)."""
    if func is None:
        return lambda f: json_option(f, help=help)

    def remember(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if value:
            application(ctx).as_json = True
        return value

    return click.option("--json", "as_json", is_flag=True, help=help, callback=remember)(func)


def emit_json(document: Any) -> None:
    """One JSON document on stdout (``Application.json``; kept for the modules not converted yet)."""
    application().json(document)
