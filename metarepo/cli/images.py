"""``meta build`` and ``meta rollout ENV``."""

from __future__ import annotations

from typing import Any

import click

from metarepo.cli.app import application
from metarepo.cli.common import jobs_from, json_option, select, selection_options
from metarepo.cli.render import ProgressReporter
from metarepo.runner import State

_REGISTRY = click.option("--registry", metavar="R", help="Push to / deploy from registry R (default: .meta's).")


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


@click.command()
@selection_options
@click.option("--since", metavar="REF", help="Only projects changed since REF (and the images built FROM them).")
@click.option("--push", is_flag=True, help="Push every tag to the registry after building.")
@_REGISTRY
@click.option("--image-tag", "extra_tags", multiple=True, metavar="T",
              help="Also tag every image T (repeatable); --tag selects projects, as everywhere.")
@click.option("--no-cache", is_flag=True, help="Build without the engine's layer cache.")
@click.option("--dry-run", is_flag=True, help="Print what would be built, in which order, as what; build nothing.")
@json_option
@click.pass_context
def build(ctx: click.Context, since: str | None, push: bool, registry: str | None, extra_tags: tuple[str, ...],
          no_cache: bool, dry_run: bool, as_json: bool, **kwargs: Any) -> int:
    """Build (and push) the Docker image of every selected project, in parallel.

    Images are tagged <registry>/<image>:<git sha> (<sha>-dirty for a work
    tree with changes), the version when HEAD has a tag, latest, and each
    --image-tag. A Dockerfile FROM another fleet image is built after it; if
    that fails, it is skipped. Logs are kept in .metarepo/builds/.
    """
    from metarepo.images.build import build_images, plan_builds
    from metarepo.images.engine import connect

    app = application(ctx)
    manifest, projects = select(ctx, kwargs)
    jobs = jobs_from(kwargs)
    plan = plan_builds(manifest, projects, registry=registry, extra_tags=extra_tags, since=since, jobs=jobs)
    if not plan.specs and not plan.failed:
        if as_json:
            app.json({"images": [], "skipped": _skipped_json(plan.skipped)})
        else:
            for name, why in plan.skipped.items():
                app.skipped(name, why)
            app.echo("build: nothing to build", err=True)
        return 0
    if dry_run:
        return _show_build_plan(app, plan, as_json)
    client = connect(pool=jobs + 2)
    reporter = ProgressReporter("build") if not as_json else None

    def shown(outcome) -> None:
        if as_json:
            return
        value = outcome.value
        if outcome.ok:
            digest = f"  {value.digest[:19]}" if value.digest else ""
            line = (f"{app.style('✓', fg='green')} {outcome.key}  {value.repository}  {', '.join(value.tag_names)}"
                    f"{digest}  ({outcome.seconds:.1f}s)")
        elif outcome.state is State.FAILED:
            line = app.style(f"✗ {outcome.key}: {outcome.reason}", fg="red", err=True)
            if value is not None and value.log_tail:
                line = "\n".join([line, _indent(value.log_tail), f"    log: {value.log}"])
        else:
            line = app.style(f"- {outcome.key}: skipped, {outcome.reason}", fg="yellow", err=True)
        (reporter.echo if reporter else app.echo)(line)

    kwargs_ = {"reporter": reporter} if reporter else {}
    run = build_images(client, plan, log_dir=manifest.ensure_state_dir() / "builds", jobs=jobs, push=push,
                       no_cache=no_cache, on_outcome=shown, **kwargs_)
    if as_json:
        app.json({"images": [_built_json(o) for o in run.outcomes],
                  "failed": [{"project": k, "reason": v} for k, v in plan.failed.items()],
                  "skipped": _skipped_json(plan.skipped)})
    else:
        _plan_problems(app, plan)
        app.summary("build" + (" and push" if push else ""), run, ok_word="built")
    status = app.exit_status(run)
    return status if status else (1 if plan.failed else 0)


def _plan_problems(app, plan) -> None:
    for name, why in plan.failed.items():
        app.failed(name, why)
    for name, why in plan.skipped.items():
        app.skipped(name, why)


def _show_build_plan(app, plan, as_json: bool) -> int:
    if as_json:
        app.json({"images": [{"project": s.project, "image": s.repository, "tags": list(s.references),
                               "after": list(plan.needs.get(s.project, ()))} for s in plan.specs],
                   "failed": [{"project": k, "reason": v} for k, v in plan.failed.items()],
                   "skipped": _skipped_json(plan.skipped)})
    else:
        rows = [[s.project, s.repository, ", ".join(s.tags), ", ".join(plan.needs.get(s.project, ()))]
                for s in plan.specs]
        app.table(["PROJECT", "IMAGE", "TAGS", "AFTER"], rows)
        _plan_problems(app, plan)
        app.echo(f"build: {len(plan.specs)} would be built (dry run: nothing was)", err=True)
    return 1 if plan.failed else 0


def _built_json(outcome) -> dict[str, Any]:
    document = outcome.value.as_json() if outcome.value is not None else {"project": outcome.key}
    document.update({"status": outcome.state, "reason": outcome.reason or None,
                     "seconds": round(outcome.seconds, 3)})
    return document


def _skipped_json(skipped) -> list[dict[str, str]]:
    return [{"project": k, "reason": v} for k, v in skipped.items()]


@click.command()
@click.argument("env")
@selection_options
@_REGISTRY
@click.option("--dry-run", is_flag=True, help="Print the plan, the specs and manifests; change nothing.")
@json_option
@click.pass_context
def rollout(ctx: click.Context, env: str, registry: str | None, dry_run: bool, as_json: bool,
            **kwargs: Any) -> int:
    """Roll the selected services out to ENV, one at a time, health-gated.

    The order is the contracts planner's when the services have contracts,
    else the manifest's. On the first failure (or Ctrl-C) every service
    this run changed is rolled back and the exit status is 1 (130). On
    success, environments/ENV.json records what runs and is committed.
    """
    from metarepo.images.rollout import plan_rollout

    app = application(ctx)
    manifest, projects = select(ctx, kwargs)
    jobs = jobs_from(kwargs)
    plan = plan_rollout(manifest, env, projects, registry=registry, jobs=jobs)
    if not plan.releases:
        for name, why in plan.skipped.items():
            app.skipped(name, why)
        app.echo(f"rollout {env}: nothing to deploy", err=True)
        return 0
    from metarepo.release.gates import rollout_gates
    from metarepo.images.targets import open_target, preview_rollout

    gates = rollout_gates(manifest, env)  # their settings are read now: a mistake stops even a dry run, early
    reporter = None if as_json else _RolloutReporter()
    plan, target = open_target(manifest.root, plan, dry_run=dry_run, jobs=jobs,
                               **({"reporter": reporter} if reporter else {}))
    if not as_json:
        for note in plan.notes:
            app.note(note)
    if dry_run:
        return _show_plan(app, plan, preview_rollout(plan, target), as_json)
    from metarepo.images.rollout import run_rollout

    if not as_json:
        app.echo(f"rollout {env} ({plan.settings.target}, order from {plan.order_from}): "
              f"{' → '.join(r.service for r in plan.releases)}", err=True)
    result = run_rollout(manifest, plan, target, gates=gates, **({"reporter": reporter} if reporter else {}))
    if as_json:
        app.json(_result_json(result))
    else:
        _show_result(app, result)
    return 130 if result.interrupted else (0 if result.ok else 1)


class _RolloutReporter(ProgressReporter):
    """A line per service as it goes live (a rollout is sequential: a bar says little)."""

    def __init__(self) -> None:
        super().__init__("rollout")

    def start(self, total: int, label: str) -> None:
        pass

    def item_started(self, key: str) -> None:
        app = application()
        app.echo(app.style(f"… {key}", dim=True, err=True), err=True)


def _show_plan(app, plan, previews, as_json: bool) -> int:
    from metarepo.image_reference import short_reference
    from metarepo.images.release import Action, Unknown

    if as_json:
        app.json({"environment": plan.settings.name, "target": plan.settings.target, "order_from": plan.order_from,
                   "services": [{"project": p.release.project, "service": p.release.service, "image": p.release.image,
                                 "digest": p.release.digest, "action": p.action.value, "detail": p.detail,
                                 "not_known": {what.value: why for what, why in p.not_known}} for p in previews],
                   "skipped": _skipped_json(plan.skipped)})
        return 0
    app.echo(f"rollout {plan.settings.name} ({plan.settings.target}, order from {plan.order_from}), dry run: "
             "nothing is changed")
    rows = [[str(n), p.release.project, p.release.service,
             "create or update?" if p.action is Action.UNKNOWN else p.action.value, short_reference(p.release.image)]
            for n, p in enumerate(previews, 1)]
    app.table(["#", "PROJECT", "SERVICE", "ACTION", "IMAGE"], rows)
    words = {Unknown.EXISTS: "whether each service exists, so whether it would be created or updated",
             Unknown.DIGEST: "the image digests, so each spec names its image by tag"}
    for what, why in dict.fromkeys(pair for p in previews for pair in p.not_known):  # each reason once
        app.note(f"not found out {words[what]}: {why}")
    for preview in previews:
        app.echo(f"\n--- {preview.release.service} ---")
        app.echo(preview.detail.rstrip())
    for name, why in plan.skipped.items():
        app.skipped(name, why)
    return 0


def _show_result(app, result) -> None:
    from metarepo.images.rollout import StepState

    marks = {StepState.DEPLOYED: ("✓", "green"), StepState.UNCHANGED: ("=", None), StepState.FAILED: ("✗", "red"),
             StepState.ROLLED_BACK: ("↺", "yellow"), StepState.NOT_STARTED: ("-", None),
             StepState.INTERRUPTED: ("!", "red")}
    rows, colours = [], []
    for step in result.steps:
        mark, colour = marks[step.state]
        rows.append([mark, step.project, step.service, step.state.value, _cut(step.detail, 140)])
        colours.append([colour, None, None, colour, None])
    app.table(["", "PROJECT", "SERVICE", "STATE", "DETAIL"], rows, colours)
    _show_measurements(app, result.steps)
    for name, why in result.plan.skipped.items():
        app.skipped(name, why)
    for note in result.notes:
        app.note(note)
    env = result.plan.settings.name
    if result.ok:
        where = f"recorded in {result.recorded}" if result.recorded else "not recorded"
        commit = f" (commit {result.commit[:12]})" if result.commit else ""
        app.echo(app.style(f"rollout {env}: {len(result.steps)} live · {where}{commit}", fg="green", err=True), err=True)
    elif result.interrupted:
        app.echo(app.style(f"rollout {env}: interrupted; what this run changed was rolled back as shown; "
                    f"environments/{env}.json is unchanged", fg="red", err=True), err=True)
    else:
        app.echo(app.style(f"rollout {env}: failed; every service this run changed was rolled back; "
                    f"environments/{env}.json is unchanged", fg="red", err=True), err=True)


def _show_measurements(app, steps) -> None:
    """Every reading the gates took, one row each, after the steps: when, what, and what it made of it."""
    from metarepo.images.gates import Reading

    shades = {Reading.PASSED: "green", Reading.FAILED: "red", Reading.INCONCLUSIVE: "yellow", Reading.ERROR: "yellow"}
    rows, colours = [], []
    for step in steps:
        for m in step.measurements:
            check = m.check if m.check == m.gate else f"{m.gate}/{m.check}"
            rows.append([step.service, check, f"{m.at:.1f}s", _value(m.value), m.reading.value, m.detail])
            colours.append([None, None, None, None, shades.get(m.reading), None])
    if rows:
        app.echo()
        app.table(["SERVICE", "CHECK", "AT", "VALUE", "READING", "DETAIL"], rows, colours)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _value(value: Any) -> str:
    if value is None:
        return "no data"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value) if value else "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _result_json(result) -> dict[str, Any]:
    return {"environment": result.plan.settings.name, "target": result.plan.settings.target,
            "order_from": result.plan.order_from, "ok": result.ok, "interrupted": result.interrupted,
            "services": [s.as_json() for s in result.steps],
            "skipped": _skipped_json(result.plan.skipped), "recorded": result.recorded, "commit": result.commit,
            "notes": [*result.plan.notes, *result.notes]}
