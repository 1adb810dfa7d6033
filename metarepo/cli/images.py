"""``meta build`` and ``meta rollout ENV``."""

from __future__ import annotations

from typing import Any

import click

from metarepo.cli.common import emit_json, jobs_from, select, selection_options
from metarepo.cli.render import ProgressReporter, exit_status, style, summary_line, table
from metarepo.runner import State

_JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
_REGISTRY = click.option("--registry", metavar="R", help="Push to / deploy from registry R (default: .meta's).")


def _echo(line: str = "", err: bool = False) -> None:
    click.echo(line, err=err)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


@click.command()
@selection_options(tag_flag="--project-tag")
@click.option("--since", metavar="REF", help="Only projects changed since REF (and the images built FROM them).")
@click.option("--push", is_flag=True, help="Push every tag to the registry after building.")
@_REGISTRY
@click.option("--tag", "extra_tags", multiple=True, metavar="T", help="Another tag for every image (repeatable).")
@click.option("--no-cache", is_flag=True, help="Build without the engine's layer cache.")
@click.option("--dry-run", is_flag=True, help="Print what would be built, in which order, as what; build nothing.")
@_JSON
@click.pass_context
def build(ctx: click.Context, since: str | None, push: bool, registry: str | None, extra_tags: tuple[str, ...],
          no_cache: bool, dry_run: bool, as_json: bool, **kwargs: Any) -> int:
    """Build (and push) the Docker image of every selected project, in parallel.

    Images are tagged <registry>/<image>:<git sha> (<sha>-dirty for a work
    tree with changes), the version when HEAD has a tag, and latest. A
    Dockerfile FROM another fleet image is built after it; if that fails,
    it is skipped. Logs are kept in .metarepo/builds/.
    """
    # --tag names an image tag here, as with `docker build`; projects are selected by tag with --project-tag.
    from metarepo.images.build import build_images, plan_builds
    from metarepo.images.engine import connect

    manifest, projects = select(ctx, kwargs)
    jobs = jobs_from(kwargs)
    plan = plan_builds(manifest, projects, registry=registry, extra_tags=extra_tags, since=since, jobs=jobs)
    if not plan.specs and not plan.failed:
        if as_json:
            emit_json({"images": [], "skipped": _skipped_json(plan.skipped)})
        else:
            for name, why in plan.skipped.items():
                _echo(style(f"- {name}: {why}", fg="yellow", err=True), err=True)
            _echo("build: nothing to build", err=True)
        return 0
    if dry_run:
        return _show_build_plan(plan, as_json)
    client = connect(pool=jobs + 2)
    reporter = ProgressReporter("build") if not as_json else None

    def shown(outcome) -> None:
        if as_json:
            return
        value = outcome.value
        if outcome.ok:
            digest = f"  {value.digest[:19]}" if value.digest else ""
            line = f"{style('✓', fg='green')} {outcome.key}  {value.tags[0]}{digest}  ({outcome.seconds:.1f}s)"
            (reporter.echo if reporter else _echo)(line)
        elif outcome.state is State.FAILED:
            lines = [style(f"✗ {outcome.key}: {outcome.reason}", fg="red", err=True)]
            if value is not None and value.log_tail:
                lines += [_indent(value.log_tail), f"    log: {value.log}"]
            (reporter.echo if reporter else _echo)("\n".join(lines))
        else:
            (reporter.echo if reporter else _echo)(style(f"- {outcome.key}: skipped, {outcome.reason}",
                                                         fg="yellow", err=True))

    kwargs_ = {"reporter": reporter} if reporter else {}
    run = build_images(client, plan, log_dir=manifest.ensure_state_dir() / "builds", jobs=jobs, push=push,
                       no_cache=no_cache, on_outcome=shown, **kwargs_)
    if as_json:
        emit_json({"images": [_built_json(o) for o in run.outcomes],
                   "failed": [{"project": k, "reason": v} for k, v in plan.failed.items()],
                   "skipped": _skipped_json(plan.skipped)})
    else:
        for name, why in plan.failed.items():
            _echo(style(f"✗ {name}: {why}", fg="red", err=True), err=True)
        for name, why in plan.skipped.items():
            _echo(style(f"- {name}: skipped, {why}", fg="yellow", err=True), err=True)
        _echo(summary_line("build" + (" and push" if push else ""), run, ok_word="built"), err=True)
    status = exit_status(run)
    return status if status else (1 if plan.failed else 0)


def _show_build_plan(plan, as_json: bool) -> int:
    if as_json:
        emit_json({"images": [{"project": s.project, "image": s.repository, "tags": list(s.references),
                               "after": list(plan.needs.get(s.project, ()))} for s in plan.specs],
                   "failed": [{"project": k, "reason": v} for k, v in plan.failed.items()],
                   "skipped": _skipped_json(plan.skipped)})
    else:
        rows = [[s.project, s.references[0].rsplit("/", 1)[-1][:60], ", ".join(plan.needs.get(s.project, ()))]
                for s in plan.specs]
        _echo(table(["PROJECT", "IMAGE", "AFTER"], rows))
        for name, why in plan.failed.items():
            _echo(style(f"✗ {name}: {why}", fg="red", err=True), err=True)
        for name, why in plan.skipped.items():
            _echo(style(f"- {name}: skipped, {why}", fg="yellow", err=True), err=True)
        _echo(f"build: {len(plan.specs)} would be built (dry run: nothing was)", err=True)
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
@_JSON
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

    manifest, projects = select(ctx, kwargs)
    jobs = jobs_from(kwargs)
    plan = plan_rollout(manifest, env, projects, registry=registry, jobs=jobs)
    if not plan.releases:
        for name, why in plan.skipped.items():
            _echo(style(f"- {name}: {why}", fg="yellow", err=True), err=True)
        _echo(f"rollout {env}: nothing to deploy", err=True)
        return 0
    reporter = None if as_json else _RolloutReporter()
    target, client = _target(plan, manifest, reporter, dry_run)
    if client is not None:
        from metarepo.images.rollout import resolve_images

        plan = resolve_images(client, plan, jobs=jobs)
    if not as_json:
        for note in plan.notes:
            _echo(style(f"note: {note}", fg="yellow", err=True), err=True)
    if dry_run:
        return _show_plan(plan, target, as_json)
    from metarepo.images.rollout import run_rollout

    if not as_json:
        _echo(f"rollout {env} ({plan.settings.target}, order from {plan.order_from}): "
              f"{' → '.join(r.service for r in plan.releases)}", err=True)
    result = run_rollout(manifest, plan, target, **({"reporter": reporter} if reporter else {}))
    if as_json:
        emit_json(_result_json(result))
    else:
        _show_result(result)
    return 130 if result.interrupted else (0 if result.ok else 1)


class _RolloutReporter(ProgressReporter):
    """A line per service as it goes live (a rollout is sequential: a bar says little)."""

    def __init__(self) -> None:
        super().__init__("rollout")

    def start(self, total: int, label: str) -> None:
        pass

    def item_started(self, key: str) -> None:
        _echo(style(f"… {key}", dim=True, err=True), err=True)


def _target(plan, manifest, reporter, dry_run: bool):
    """The target for the plan's environment, and the docker client to resolve images with (or None)."""
    from metarepo.errors import EngineUnavailable
    from metarepo.images.engine import connect
    from metarepo.images.release import KUBERNETES

    settings = plan.settings
    report = {"reporter": reporter} if reporter else {}
    if settings.target == KUBERNETES:
        from metarepo.images.kubernetes import KubernetesTarget

        try:
            client = connect(settings.docker_host)
        except EngineUnavailable:
            client = None  # deploy by tag; the cluster pulls it
        return KubernetesTarget(settings, manifest.root, **report), client
    from metarepo.images.swarm import SwarmTarget

    try:
        client = connect(settings.docker_host)
    except EngineUnavailable:
        if not dry_run:
            raise
        return None, None
    return SwarmTarget(client, **report), client


def _show_plan(plan, target, as_json: bool) -> int:
    from metarepo.images.references import short_reference

    previews = []
    for release in plan.releases:
        if target is None:
            previews.append((release, "create or update (engine not reachable)", ""))
        else:
            preview = target.preview(release)
            previews.append((release, preview.action, preview.detail))
    if as_json:
        emit_json({"environment": plan.settings.name, "target": plan.settings.target, "order_from": plan.order_from,
                   "services": [{"project": r.project, "service": r.service, "image": r.image, "digest": r.digest,
                                 "action": action, "detail": detail} for r, action, detail in previews],
                   "skipped": _skipped_json(plan.skipped)})
        return 0
    _echo(f"rollout {plan.settings.name} ({plan.settings.target}, order from {plan.order_from}), dry run: "
          "nothing is changed")
    rows, reasons = [], []
    for n, (release, action, _) in enumerate(previews, 1):
        short, _, why = action.partition(" (")  # "create/update (cluster not asked: ...)": the why once, below
        if why and why.rstrip(")") not in reasons:
            reasons.append(why.rstrip(")"))
        rows.append([str(n), release.project, release.service, short + ("?" if why else ""),
                     short_reference(release.image)])
    _echo(table(["#", "PROJECT", "SERVICE", "ACTION", "IMAGE"], rows))
    for why in reasons:
        _echo(style(f"note: {why}", fg="yellow", err=True), err=True)
    for release, action, detail in previews:
        if detail:
            _echo(f"\n--- {release.service} ---")
            _echo(detail.rstrip())
    for name, why in plan.skipped.items():
        _echo(style(f"- {name}: {why}", fg="yellow", err=True), err=True)
    return 0


_MARKS = {"deployed": ("✓", "green"), "unchanged": ("=", None), "failed": ("✗", "red"),
          "rolled back": ("↺", "yellow"), "not started": ("-", None), "interrupted": ("!", "red")}


def _show_result(result) -> None:
    rows, colours = [], []
    for step in result.steps:
        mark, colour = _MARKS.get(step.state, ("?", None))
        rows.append([mark, step.project, step.service, step.state, step.detail[:100]])
        colours.append([colour, None, None, colour, None])
    _echo(table(["", "PROJECT", "SERVICE", "STATE", "DETAIL"], rows, colours))
    for name, why in result.plan.skipped.items():
        _echo(style(f"- {name}: skipped, {why}", fg="yellow", err=True), err=True)
    for note in result.notes:
        _echo(style(f"note: {note}", fg="yellow", err=True), err=True)
    env = result.plan.settings.name
    if result.ok:
        where = f"recorded in {result.recorded}" if result.recorded else "not recorded"
        commit = f" (commit {result.commit[:12]})" if result.commit else ""
        _echo(style(f"rollout {env}: {len(result.steps)} live · {where}{commit}", fg="green", err=True), err=True)
    elif result.interrupted:
        _echo(style(f"rollout {env}: interrupted; what this run changed was rolled back as shown; "
                    f"environments/{env}.json is unchanged", fg="red", err=True), err=True)
    else:
        _echo(style(f"rollout {env}: failed; every service this run changed was rolled back; "
                    f"environments/{env}.json is unchanged", fg="red", err=True), err=True)


def _result_json(result) -> dict[str, Any]:
    return {"environment": result.plan.settings.name, "target": result.plan.settings.target,
            "order_from": result.plan.order_from, "ok": result.ok, "interrupted": result.interrupted,
            "services": [s.as_json() for s in result.steps],
            "skipped": _skipped_json(result.plan.skipped), "recorded": result.recorded, "commit": result.commit,
            "notes": [*result.plan.notes, *result.notes]}
