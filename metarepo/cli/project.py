"""``meta project add|remove|list|import``: edit the manifest (and .gitignore)."""

from __future__ import annotations

import click

from metarepo.cli.app import application
from metarepo.cli.common import json_option, manifest_from


@click.group()
def project() -> None:
    """Add, remove, list or import projects in .meta."""


@project.command("add")
@click.argument("path")
@click.argument("url")
@click.pass_context
def add(ctx: click.Context, path: str, url: str) -> int:
    """Add a project: its folder PATH and its remote URL (not cloned here; see `meta update`)."""
    from metarepo.workspace.projects import add_project

    add_project(manifest_from(ctx), path, url)
    application(ctx).echo(f"added {path}")
    return 0


@project.command("remove")
@click.argument("path")
@click.pass_context
def remove(ctx: click.Context, path: str) -> int:
    """Remove a project from .meta (its folder on disk is left alone)."""
    from metarepo.workspace.projects import remove_project

    remove_project(manifest_from(ctx), path)
    application(ctx).echo(f"removed {path}")
    return 0


@project.command("import")
@click.argument("path")
@click.argument("url", required=False)
@click.pass_context
def import_(ctx: click.Context, path: str, url: str | None) -> int:
    """Add an existing clone at PATH; its URL is read from its origin unless given."""
    from metarepo.workspace.projects import import_project

    import_project(manifest_from(ctx), path, url)
    application(ctx).echo(f"imported {path}")
    return 0


@project.command("list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> int:
    """List the projects in .meta with their URL and tags."""
    from metarepo.urls import redact

    app = application(ctx)
    manifest = manifest_from(ctx)
    if as_json:
        app.json([{"project": p.name, "url": redact(p.url), "path": str(p.path), "tags": list(p.tags),
                    "cloned": p.cloned} for p in manifest.projects])
        return 0
    app.table(["PROJECT", "URL", "TAGS"], [[p.name, redact(p.url), ",".join(p.tags)] for p in manifest.projects])
    return 0
