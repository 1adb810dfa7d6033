"""``meta import github ORG``: add a hosting organisation's repositories to .meta."""

from __future__ import annotations

import click

from metarepo.cli.app import application
from metarepo.cli.common import json_option, manifest_from


@click.group("import")
def import_() -> None:
    """Add a hosting organisation's repos to .meta."""


@import_.command("github")
@click.argument("org")
@click.option("--topic", help="Only repositories with this topic.")
@click.option("--no-archived", is_flag=True, help="Leave out archived repositories.")
@click.option("--no-forks", is_flag=True, help="Leave out forks.")
@click.option("--prefix", default="", metavar="DIR", help="Put the projects under DIR/ (e.g. services).")
@click.option("--https", is_flag=True, help="Use https clone URLs instead of ssh.")
@click.option("--dry-run", is_flag=True, help="List what would be added; change nothing.")
@click.option("--github-url", metavar="URL", help="GitHub Enterprise API URL (https://HOST/api/v3).")
@json_option
@click.pass_context
def github(ctx: click.Context, org: str, topic: str | None, no_archived: bool, no_forks: bool, prefix: str,
           https: bool, dry_run: bool, github_url: str | None, as_json: bool) -> int:
    """Add ORG's repositories to .meta (token: GITHUB_TOKEN)."""
    from metarepo.hosting.client import github_client
    from metarepo.hosting.org import import_repos, list_org_repos

    app = application(ctx)
    manifest = manifest_from(ctx)
    client = github_client(manifest, url=github_url)
    repos = list_org_repos(client, org, topic=topic, archived=not no_archived, forks=not no_forks)
    if dry_run:
        if as_json:
            app.json({"org": org, "repositories": [r.as_json() for r in repos]})
        else:
            for repo in repos:
                app.echo(f"would add {repo.full_name} ({repo.default_branch})")
        return 0
    result = import_repos(manifest, repos, prefix=prefix, https=https)
    if as_json:
        app.json({"org": org, "added": [{"project": f, "url": u} for f, u in result.added],
                   "skipped": [{"repository": r, "reason": why} for r, why in result.skipped]})
        return 0
    for folder, url in result.added:
        app.echo(f"{app.style('added', fg='green')} {folder}  {url}")
    for repo, why in result.skipped:
        app.skipped(repo, why)
    app.echo(f"import github {org}: {len(result.added)} added, {len(result.skipped)} skipped"
             + (" (run `meta update` to clone them)" if result.added else ""), err=True)
    return 0
