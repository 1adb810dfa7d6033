"""``meta release plan|apply|promote|status|rollback``: release trains across the fleet."""

from __future__ import annotations

from typing import Any

import click

from metarepo.cli.app import application
from metarepo.cli.common import jobs_from, json_option, manifest_from, select, selection_options

_TO = click.option("--to", "env", metavar="ENV", help="The environment: the contracts gate and the rollout's.")


@click.group()
def release() -> None:
    """Release trains: many services released together, tags everywhere or nowhere.

    \b
        meta release plan --to staging          # versions, changelogs, verdicts, order
        meta release apply --to staging         # commit, tag, push, build, roll out, record
        meta release promote NAME --to production
        meta release status [NAME]
        meta release rollback NAME --env staging
    """


def _plan_json(plan) -> dict[str, Any]:
    return {"environment": plan.env, "order": list(plan.order), "order_from": plan.order_from,
            "blocked": plan.blocked or None, "releases": [r.as_json() for r in plan.releases],
            "unchanged": [{"project": k, "reason": v} for k, v in plan.unchanged.items()], "notes": list(plan.notes)}


def _show_plan(app, plan) -> None:
    rows = []
    for r in plan.releases:
        verdict = r.verdict.answer if r.verdict else "-"
        bump = "minor (breaking, 0.x)" if r.bump.word == "major" and r.version.major == 0 else r.bump.word
        rows.append([r.project, str(r.current or "-"), str(r.version), bump, str(len(r.commits)), verdict])
    app.table(["PROJECT", "FROM", "TO", "BUMP", "COMMITS", "CONTRACTS"], rows)
    for r in plan.releases:
        app.echo(f"\n{r.project} {r.tag}" + (f" (last release {r.last_tag})" if r.last_tag else " (first release)"))
        for line in r.section().rstrip().splitlines()[1:]:
            if line:
                app.echo(f"  {line}")
        if r.reasons:
            app.note(f"{r.project}: {r.bump.word} because the contracts gate calls a change breaking, whatever the "
                     f"commits say: {'; '.join(x.replace('**contracts:** ', '') for x in r.reasons)}")
        if r.verdict and r.verdict.already:
            app.note(f"{r.project}: already broken in {plan.env} before this release (not counted): "
                     f"{'; '.join(r.verdict.already)}")
        if r.verdict and r.verdict.unknown:
            app.note(f"{r.project}: the gate could not ask: {'; '.join(r.verdict.unknown[:3])}")
        if r.unparsed:
            how = "counted as a patch" if r.settings.unparsed.value == "patch" else "not counted"
            app.note(f"{r.project}: {r.unparsed} commit(s) are not Conventional Commits ({how}; release.unparsed)")
    for name, why in plan.unchanged.items():
        app.skipped(name, why)
    for note in plan.notes:
        app.note(note)
    if plan.releases:
        order = " → ".join(plan.order) if plan.order else "nothing to deploy"
        app.echo(f"\nrollout order ({plan.order_from}): {order}", err=True)
    if plan.blocked:
        app.failed("contracts gate", f"no: {plan.blocked}")
    app.echo(f"release plan: {len(plan.releases)} to release, {len(plan.unchanged)} unchanged"
             + (f" · to {plan.env}" if plan.env else "") + " (nothing was written)", err=True)


@release.command("plan")
@selection_options
@_TO
@json_option
@click.pass_context
def plan_(ctx: click.Context, env: str | None, as_json: bool, **kwargs: Any) -> int:
    """What a train would release: versions from Conventional Commits, changelogs, contract verdicts, order.

    Writes nothing. Exit status 1 when the contracts gate finds no safe order.
    """
    from metarepo.release.plan import plan_release

    app = application(ctx)
    manifest, projects = select(ctx, kwargs)
    plan = plan_release(manifest, projects, env=env, jobs=jobs_from(kwargs), reporter=app.reporter("plan"))
    if as_json:
        app.json(_plan_json(plan))
    else:
        _show_plan(app, plan)
    return 1 if plan.blocked else 0


def _steps_json(result) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"environment": result.plan.settings.name, "ok": result.ok, "interrupted": result.interrupted,
            "order_from": result.plan.order_from, "services": [s.as_json() for s in result.steps],
            "recorded": result.recorded, "commit": result.commit}


def _show_rollout(app, result) -> None:
    if result is None:
        return
    env = result.plan.settings.name
    for step in result.steps:
        mark = {"deployed": "✓", "unchanged": "=", "failed": "✗", "rolled back": "↺"}.get(step.state.value, "-")
        app.echo(f"  {mark} {step.service}: {step.state.value}" + (f" ({step.detail[:120]})" if step.detail else ""))
    if result.ok:
        app.echo(f"rollout {env}: {len(result.steps)} live" + (f" · recorded in {result.recorded}" if result.recorded
                                                              else ""), err=True)
    else:
        app.failed(f"rollout {env}", "failed; every service it changed was rolled back" if not result.interrupted
                   else "interrupted; what it changed was rolled back")


def _apply_json(result) -> dict[str, Any]:
    push = result.push
    return {"train": result.name, "ok": result.ok, "interrupted": result.interrupted,
            "state": result.train.state.value if result.train else None,
            "failure": (result.train.failure if result.train else None) or (push.refused if push else None) or None,
            "pushed": [m.name for m in push.landed] if push and push.ok else [],
            "undone": list(push.undone) if push else [],
            "left": [{"project": x.project, "what": x.what} for x in push.leftovers] if push else [],
            "built": dict(result.built), "build_failed": dict(result.build_failed),
            "rollout": _steps_json(result.rollout), "recorded": result.recorded, "commit": result.commit,
            "record": result.train.as_json() if result.train else None, "notes": list(result.notes)}


def _show_apply(app, result) -> None:
    push = result.push
    if push is not None and not push.ok:
        why = "interrupted" if push.interrupted else f"push refused: {push.refused}"
        app.failed(f"release {result.name}", why)
        if push.undone:
            app.echo(f"  put back (tag deleted, branch reset): {', '.join(push.undone)}", err=True)
        for left in push.leftovers:
            app.failed(left.project, f"left as it is: {left.what}")
        state = "every remote is as it was" if not push.leftovers else "every other remote is as it was"
        app.echo(f"release {result.name}: nothing released; {state}, every clone is back at its commit, "
                 "nothing was recorded", err=True)
        return
    train = result.train
    for entry in train.entries:
        image = result.built.get(entry.project)
        app.done(entry.project, f"{entry.previous or '-'} → {entry.version}, tagged {entry.tag} at {entry.sha[:12]}, "
                                f"pushed" + (f"; image {image}" if image else ""))
    for name, why in result.build_failed.items():
        app.failed(name, f"image: {why}")
    _show_rollout(app, result.rollout)
    for note in result.notes:
        app.note(note)
    where = f"recorded in {result.recorded}" + (f" (commit {result.commit[:12]})" if result.commit else "")
    if result.ok:
        app.echo(app.style(f"release {result.name}: released {len(train.entries)} project(s) · {where}", fg="green",
                           err=True), err=True)
    else:
        app.failed(f"release {result.name}", f"{train.failure}; the tags stay pushed; {where} as failed")


@release.command("apply")
@selection_options
@click.option("--name", metavar="NAME", help="The train's name (default: today's date).")
@_TO
@click.option("--no-rollout", is_flag=True, help="Tag, push and build, but roll nothing out.")
@click.option("--registry", metavar="R", help="Push to / deploy from registry R (default: .meta's).")
@click.option("--github-release", is_flag=True, help="Also make one GitHub Release per repository (GITHUB_TOKEN).")
@json_option
@click.pass_context
def apply_(ctx: click.Context, name: str | None, env: str | None, no_rollout: bool, registry: str | None,
           github_release: bool, as_json: bool, **kwargs: Any) -> int:
    """Release the train: version files, CHANGELOG.md, a release commit and tag per repo, pushed everywhere or
    nowhere; each image built once; rolled out to ENV in the planner's order; recorded in releases/NAME.json.
    """
    from metarepo.release.apply import apply_train

    app = application(ctx)
    manifest, projects = select(ctx, kwargs)
    after_push = None
    if github_release:
        from metarepo.release.github import github_releases

        after_push = github_releases(manifest)
    result = apply_train(manifest, projects, name=name, env=env, rollout=not no_rollout, registry=registry,
                         jobs=jobs_from(kwargs), reporter=app.reporter("release"), after_push=after_push)
    if as_json:
        app.json(_apply_json(result))
    else:
        _show_apply(app, result)
    return 130 if result.interrupted else (0 if result.ok else 1)


def _rollout_exit(result) -> int:
    return 130 if result.interrupted else (0 if result.ok else 1)


@release.command("promote")
@click.argument("name")
@click.option("--to", "env", metavar="ENV", required=True, help="The environment to roll the train out to.")
@json_option
@click.pass_context
def promote(ctx: click.Context, name: str, env: str, as_json: bool) -> int:
    """Roll the exact digests train NAME recorded out to ENV; nothing is rebuilt."""
    from metarepo.release.promote import promote_train

    app = application(ctx)
    manifest = manifest_from(ctx)
    result = promote_train(manifest, name, env, jobs=jobs_from({}), reporter=app.reporter("promote"))
    if as_json:
        app.json({"train": name, **_steps_json(result)})
    else:
        app.echo(f"promote {name} to {env} (order from {result.plan.order_from}): "
                 f"{' → '.join(r.service for r in result.plan.releases)}", err=True)
        _show_rollout(app, result)
    return _rollout_exit(result)


@release.command("rollback")
@click.argument("name")
@click.option("--env", "env", metavar="ENV", required=True, help="The environment to roll back.")
@json_option
@click.pass_context
def rollback(ctx: click.Context, name: str, env: str, as_json: bool) -> int:
    """Redeploy, in ENV, the previous train's digests of train NAME's projects, in reverse rollout order."""
    from metarepo.release.promote import rollback_train

    app = application(ctx)
    manifest = manifest_from(ctx)
    done = rollback_train(manifest, name, env, jobs=jobs_from({}), reporter=app.reporter("rollback"))
    if as_json:
        app.json({"train": name, "previous": done.previous,
                  "not_rolled_back": [{"project": k, "reason": v} for k, v in done.not_rolled_back.items()],
                  **_steps_json(done.result)})
    else:
        for project, source in done.previous.items():
            app.echo(f"  {project}: back to train {source}", err=True)
        for project, why in done.not_rolled_back.items():
            app.skipped(project, why)
        _show_rollout(app, done.result)
    return _rollout_exit(done.result)


@release.command("status")
@click.argument("name", required=False)
@json_option
@click.pass_context
def status(ctx: click.Context, name: str | None, as_json: bool) -> int:
    """The trains, and which environment runs which (from environments/ENV.json)."""
    from metarepo.release.promote import train_status

    app = application(ctx)
    found = train_status(manifest_from(ctx), name)
    if as_json:
        app.json({"trains": [s.as_json() for s in found]})
        return 0
    if not found:
        app.info("no trains yet (meta release apply makes one)")
        return 0
    rows = [[s.train.name, s.train.state.value, s.train.created, str(len(s.train.entries)),
             ", ".join(f"{env}" if how == "all" else f"{env} {how}" for env, how in s.running.items()) or "-"]
            for s in found]
    app.table(["TRAIN", "STATE", "CREATED", "PROJECTS", "RUNNING IN"], rows)
    if name:
        (one,) = found
        if one.train.failure:
            app.note(f"{name}: {one.train.failure}")
        app.echo("")
        app.table(["PROJECT", "VERSION", "TAG", "SHA", "DIGEST"],
                  [[e.project, e.version, e.tag, e.sha[:12], (e.digest or "-")[:19]] for e in one.train.entries])
    return 0
