"""``meta batch run|push|pr|status``: one change across many repos, as branches and pull requests."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Callable

import click

from metarepo.cli.app import application
from metarepo.cli.common import SECONDS, json_option, jobs_from, select, selection_options
from metarepo.cli.passthrough import PassThrough
from metarepo.runner import State


@click.group()
def batch() -> None:
    """One change across many repos: branch, commit, push, pull requests."""


def print_outcomes(run: Any, describe: Callable[[Any], str]) -> None:
    """One line per repo, in manifest order: what was done, skipped or failed."""
    application().outcomes(run, describe)


def outcomes_json(verb: str, run: Any) -> dict:
    return {"command": verb, "interrupted": run.interrupted, "projects": [
        {"project": o.key, "status": o.state, "reason": o.reason or None,
         "result": o.value.as_json() if o.value is not None and hasattr(o.value, "as_json") else None}
        for o in run.outcomes]}


def describe_change(change: Any) -> str:
    fresh = "new branch" if change.how == "created" else "existing branch reused"
    caught_up = {"rebased": f"; rebased onto the latest {change.base}",
                 "conflicts": f"; it is behind {change.base} and rebasing conflicts, so it was left as it was"
                 }.get(change.caught_up or "", "")
    if change.commit:
        return f"committed {change.commit[:10]} on {change.branch} ({fresh}, from {change.base}){caught_up}"
    return f"no new change; {change.branch} already has {change.ahead} commit(s){caught_up}"


def finish(verb: str, run: Any, as_json: bool, describe: Callable[[Any], str]) -> int:
    app = application()
    if as_json:
        app.json(outcomes_json(verb, run))
    else:
        app.outcomes(run, describe)
        app.summary(verb, run)
    return app.exit_status(run)


@batch.command("run", cls=PassThrough)
@click.option("--branch", "-b", required=True, help="The branch to make (or reuse) in each repo.")
@click.option("--message", "-m", required=True, help="The commit message.")
@click.option("--timeout", type=SECONDS, metavar="S",
              help="End the command after S seconds in a repo.")
@json_option
@selection_options
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="CMD...")
@click.pass_context
def run_(ctx: click.Context, branch: str, message: str, timeout: float | None, as_json: bool,
         command: tuple[str, ...], **kwargs: Any) -> int:
    """In each repo: branch from the default branch, run CMD, commit if anything changed.

    A repo with uncommitted changes is skipped (never stashed); a repo where
    nothing changed is skipped and its new branch removed. Each repo goes
    back to the branch it was on. Options go before CMD, or after it as
    for `meta exec` (see `meta exec --help`). Example:

    \b
        meta batch run -b bump-base -m "Use the new base image" -- \\
            sed -i s/alpine:3.19/alpine:3.20/ Dockerfile
    """
    from metarepo.batch.change import apply_change, shell_change

    text = command[0] if len(command) == 1 else shlex.join(command)
    manifest, projects = select(ctx, kwargs)
    run = apply_change(manifest, projects, branch=branch, message=message,
                       change=shell_change(manifest, text, timeout), jobs=jobs_from(kwargs),
                       reporter=application(ctx).reporter("batch run"))
    return finish("batch run", run, as_json, describe_change)


@batch.command("push")
@click.option("--branch", "-b", help="The batch branch (default: the last `meta batch run`'s).")
@json_option
@selection_options
@click.pass_context
def push(ctx: click.Context, branch: str | None, as_json: bool, **kwargs: Any) -> int:
    """Push each repo's batch branch to origin; a rejected push fails that repo only."""
    from metarepo.batch.change import branch_or_last
    from metarepo.batch.push import push_branches

    manifest, projects = select(ctx, kwargs)
    branch = branch_or_last(manifest, branch)
    run = push_branches(projects, branch=branch, jobs=jobs_from(kwargs))
    return finish("batch push", run, as_json, lambda p: f"{p.state} {p.branch} ({p.commit[:10]})")


def github_options(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--github-url", metavar="URL",
                        help="GitHub Enterprise API URL (https://HOST/api/v3); else metarepo.github.base_url.")(func)


@batch.command("pr")
@click.option("--title", "-t", required=True, help="The pull request's title.")
@click.option("--body-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file holding the pull request's description.")
@click.option("--draft", is_flag=True, help="Open new pull requests as drafts.")
@click.option("--branch", "-b", help="The batch branch (default: the last `meta batch run`'s).")
@json_option
@github_options
@selection_options
@click.pass_context
def pr(ctx: click.Context, title: str, body_file: Path | None, draft: bool, branch: str | None, as_json: bool,
       github_url: str | None, **kwargs: Any) -> int:
    """Open (or update) one pull request per repo from the pushed batch branch (token: GITHUB_TOKEN)."""
    from metarepo.batch.change import branch_or_last
    from metarepo.batch.pulls import open_pull_requests
    from metarepo.hosting.client import github_client

    manifest, projects = select(ctx, kwargs)
    kwargs.pop("jobs", None)
    branch = branch_or_last(manifest, branch)
    body = body_file.read_text(encoding="utf-8") if body_file else None
    client = github_client(manifest, url=github_url)
    run = open_pull_requests(projects, client=client, branch=branch, title=title, body=body, draft=draft)
    return finish("batch pr", run, as_json, lambda p: f"#{p.number} {p.action} ({p.state}) {p.url}")


@batch.command("status")
@click.option("--branch", "-b", help="The batch branch (default: the last `meta batch run`'s).")
@json_option
@github_options
@selection_options
@click.pass_context
def status(ctx: click.Context, branch: str | None, as_json: bool, github_url: str | None, **kwargs: Any) -> int:
    """Each repo's pull request from the batch branch: its state and its checks."""
    from metarepo.batch.change import branch_or_last
    from metarepo.batch.pulls import batch_status
    from metarepo.hosting.client import github_client

    manifest, projects = select(ctx, kwargs)
    kwargs.pop("jobs", None)
    branch = branch_or_last(manifest, branch)
    client = github_client(manifest, url=github_url)
    run = batch_status(projects, client=client, branch=branch)
    app = application(ctx)
    if as_json:
        app.json(outcomes_json("batch status", run))
        return app.exit_status(run)
    rows, colours = [], []
    for o in run.outcomes:
        if o.state is not State.DONE:
            rows.append([str(o.key), "-", o.state, "-", o.reason])
            colours.append([None, None, "red" if o.state is State.FAILED else "yellow", None, None])
            continue
        info, checks = o.value.pull_request, o.value.checks
        if info is None:
            rows.append([str(o.key), "-", "no pull request", "-", ""])
            colours.append([None, None, "yellow", None, None])
            continue
        shown_checks = checks.state if not checks.failing else f"{checks.state} ({', '.join(checks.failing)})"
        rows.append([str(o.key), f"#{info.number}", info.state, shown_checks, info.url])
        colours.append([None, None, {"merged": "magenta", "open": "green", "closed": "red"}.get(info.state),
                        {"success": "green", "failure": "red", "pending": "yellow"}.get(checks.state), None])
    app.table(["PROJECT", "PR", "STATE", "CHECKS", "URL"], rows, colours)
    return app.exit_status(run)
