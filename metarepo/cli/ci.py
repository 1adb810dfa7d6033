"""``meta ci generate|check|diff``: every repo's pipeline from the shared templates, and drift."""

from __future__ import annotations

from typing import Any

import click

from metarepo.ci import PROVIDERS
from metarepo.cli.app import application
from metarepo.cli.common import jobs_from, json_option, select, selection_options


@click.group()
def ci() -> None:
    """Generate, check and diff every repo's CI pipeline."""


def _warn_not_cloned(names: tuple[str, ...]) -> None:
    app = application()
    for name in names:
        app.skipped(name, "not cloned (run `meta update`)")


@ci.command("generate")
@click.option("--provider", type=click.Choice(PROVIDERS),
              help="Write this CI system's pipeline, and record it as each project's `ci` in .meta.")
@click.option("--branch", "-b", help="Commit the regenerated pipelines on this branch in each repo "
                                     "(the `meta batch` path), instead of writing into the checkout.")
@click.option("--message", "-m", default="Regenerate the CI pipeline from ci-templates", show_default=True,
              help="The commit message, with --branch.")
@click.option("--push", "push_", is_flag=True, help="With --branch: also push the branches.")
@click.option("--pr", "open_pr", is_flag=True, help="With --branch: also push and open or update pull requests.")
@click.option("--title", help="The pull requests' title (default: the commit message).")
@click.option("--github-url", metavar="URL", help="GitHub Enterprise API URL, for --pr.")
@json_option
@selection_options
@click.pass_context
def generate(ctx: click.Context, provider: str | None, branch: str | None, message: str, push_: bool,
             open_pr: bool, title: str | None, github_url: str | None, as_json: bool, **kwargs: Any) -> int:
    """Write each selected project's pipeline file(s), validated first; nothing is written if any is invalid.

    With --branch B the files are committed on branch B in each repo (made
    from the default branch; dirty repos skipped), so a template fix reaches
    every repo as pull requests: `meta ci generate --branch ci-fix --pr`.
    """
    if (push_ or open_pr or title) and not branch:
        raise click.UsageError("--push, --pr and --title need --branch")
    app = application(ctx)
    manifest, projects = select(ctx, kwargs)
    jobs = jobs_from(kwargs)
    if not branch:
        from metarepo.ci.generate import FileStatus, generate as generate_files

        results, not_cloned = generate_files(manifest, projects, provider)
        if as_json:
            app.json({"files": [r.as_json() for r in results], "not_cloned": list(not_cloned)})
            return 0
        counts: dict[str, int] = {}
        for r in results:
            counts[r.state.value] = counts.get(r.state.value, 0) + 1
            if r.state is not FileStatus.UNCHANGED:
                colour = "red" if r.state is FileStatus.REMOVED else "green"
                app.echo(f"{app.style(r.state.value, fg=colour)} {r.project}/{r.path}")
        _warn_not_cloned(not_cloned)
        shown = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing to write"
        app.echo(f"ci generate: {shown}", err=True)
        return 0
    return _generate_on_branch(manifest, projects, provider=provider, branch=branch, message=message,
                               push_=push_ or open_pr, open_pr=open_pr, title=title or message,
                               github_url=github_url, as_json=as_json, jobs=jobs)


def _generate_on_branch(manifest: Any, projects: list, *, provider: str | None, branch: str,
                        message: str, push_: bool, open_pr: bool, title: str, github_url: str | None,
                        as_json: bool, jobs: int) -> int:
    from metarepo.batch.change import apply_change
    from metarepo.ci.generate import plan_pipelines, record_provider, write_pipeline
    from metarepo.cli.batch import describe_change, finish, outcomes_json

    client = None
    if open_pr:  # a missing token is found before any repo is touched
        from metarepo.hosting.client import github_client

        client = github_client(manifest, url=github_url)
    plan = plan_pipelines(manifest, projects, provider)  # everything validated before any git work
    pipelines = {project.name: pipeline for project, pipeline in plan.pipelines}
    _warn_not_cloned(plan.not_cloned)
    run = apply_change(manifest, [p for p in projects if p.name in pipelines], branch=branch, message=message,
                       change=lambda project: write_pipeline(project, pipelines[project.name]), jobs=jobs)
    if provider is not None:
        record_provider(manifest, projects, provider)
    documents = [outcomes_json("ci generate", run)]
    app = application()
    status = finish("ci generate", run, False, describe_change) if not as_json else app.exit_status(run)
    changed = [p for p in projects if any(o.key == p.name and o.ok for o in run.outcomes)]
    if push_ and changed:
        from metarepo.batch.push import push_branches

        pushed = push_branches(changed, branch=branch, jobs=jobs)
        documents.append(outcomes_json("batch push", pushed))
        status = max(status, finish("batch push", pushed, False, lambda p: f"{p.state} {p.branch}")
                     if not as_json else app.exit_status(pushed))
        changed = [p for p in changed if any(o.key == p.name and o.ok for o in pushed.outcomes)]
    if open_pr and changed:
        from metarepo.batch.pulls import open_pull_requests

        prs = open_pull_requests(changed, client=client, branch=branch, title=title)
        documents.append(outcomes_json("batch pr", prs))
        status = max(status, finish("batch pr", prs, False, lambda p: f"#{p.number} {p.action} {p.url}")
                     if not as_json else app.exit_status(prs))
    if as_json:
        app.json(documents)
    return status


@ci.command("check")
@json_option
@selection_options
@click.pass_context
def check(ctx: click.Context, as_json: bool, **kwargs: Any) -> int:
    """Exit 1, naming each project and file, when a pipeline differs from what generation would write."""
    from metarepo.ci.generate import FileStatus, check as check_files

    app = application(ctx)
    manifest, projects = select(ctx, kwargs)
    states, not_cloned = check_files(manifest, projects)
    drifted = [s for s in states if s.state is not FileStatus.UNCHANGED]
    if as_json:
        app.json({"in_step": not drifted, "files": [s.as_json() for s in states], "not_cloned": list(not_cloned)})
        return 1 if drifted else 0
    words = {FileStatus.DRIFTED: "differs from what `meta ci generate` would write (a hand edit or a template change)",
             FileStatus.MISSING: "is missing",
             FileStatus.STALE: "was generated for another CI provider and is no longer wanted"}
    for s in drifted:
        app.echo(f"{app.style('✗', fg='red')} {s.project}: {s.path} {words[s.state]}")
    _warn_not_cloned(not_cloned)
    checked = len({s.project for s in states})
    if drifted:
        app.echo(f"ci check: {len({s.project for s in drifted})} of {checked} projects drifted; "
                   "run `meta ci diff` to see how, `meta ci generate` to fix", err=True)
        return 1
    app.echo(f"ci check: {checked} projects in step", err=True)
    return 0


@ci.command("diff")
@selection_options
@click.pass_context
def diff(ctx: click.Context, **kwargs: Any) -> int:
    """Print unified diffs from each pipeline on disk to what generation would write (exit 1 if any)."""
    from metarepo.ci.generate import check as check_files

    manifest, projects = select(ctx, kwargs)
    states, not_cloned = check_files(manifest, projects, with_diff=True)
    differing = [s for s in states if s.diff]
    for s in differing:
        application(ctx).echo(s.diff, nl=False)
    _warn_not_cloned(not_cloned)
    return 1 if differing else 0



