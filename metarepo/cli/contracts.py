"""``meta contracts``: compare, check, record-deployment, can-i-deploy, plan."""

from __future__ import annotations

import json
from pathlib import Path

import click

from metarepo.cli.app import application
from metarepo.cli.common import jobs_from, json_option, manifest_from, select, selection_options

_POLICY = click.option("--policy", type=click.Choice(["strict", "lenient"]), default="strict", show_default=True,
                       help="lenient relaxes the open-content-model rules.")
_JSON = json_option


def _echo(line: str = "", err: bool = False) -> None:
    application().echo(line, err=err)


def style(text: str, **how) -> str:
    return application().style(text, **how)


def emit_json(document) -> None:
    application().json(document)


@click.group()
def contracts() -> None:
    """Schema-compatibility gates between the services that publish and consume each message."""


_RESULT = {"compatible": ("ok", "green"), "breaking": ("BREAKING", "red"), "undecided": ("UNDECIDED", "yellow")}


def _verdict_lines(verdict, indent: str = "  ", all_changes: bool = False) -> list[str]:
    lines = []
    for change in verdict.changes:
        if change.kind == "undecided":
            lines.append(f"{indent}{style('?', fg='yellow')} {change.message} (taken as not safe)")
        elif change.breaking:
            lines.append(f"{indent}{style('✗', fg='red')} {change.path}  {change.kind}: {change.message}")
        elif all_changes:
            lines.append(f"{indent}{style('·', dim=True)} {change.path}  {change.kind}: {change.message}")
    if verdict.state.value == "breaking":
        if verdict.has_example:
            text = json.dumps(verdict.example, ensure_ascii=False)
            lines.append(f"{indent}example (the writer's schema accepts it, the reader's rejects it): {text}")
        else:
            lines.append(f"{indent}no example message could be built for this change")
    return lines


@contracts.command()
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--role", type=click.Choice(["producer", "consumer"]), required=True,
              help="producer: can readers of OLD read what NEW sends? consumer: can NEW read what OLD-era writers send?")
@_POLICY
@_JSON
def compare(old: Path, new: Path, role: str, policy: str, as_json: bool) -> int:
    """Is the change from schema OLD to schema NEW safe? Exit 0 compatible, 1 breaking or undecided, 2 bad input.

    A JSON Schema without "$schema" is read as draft 2020-12; a file ending in
    .avsc is an Avro schema. Relative $refs resolve inside the current folder
    (or the file's own folder when it is outside it), symlinks included.
    """
    from metarepo.contracts.compare import compare_change, load_schema_file

    verdict = compare_change(load_schema_file(old), load_schema_file(new), role, policy)
    if as_json:
        emit_json(verdict.as_json())
    else:
        word, colour = _RESULT[verdict.state.value]
        head = style("compatible" if verdict.compatible else word.lower(), fg=colour, bold=not verdict.compatible)
        _echo(f"{head}: {old} -> {new} as a {role} ({policy})")
        for line in _verdict_lines(verdict, all_changes=True):
            _echo(line)
    return 0 if verdict.compatible else 1


def _pair_row(pair) -> list[str]:
    producer = pair.producer + ("" if pair.producer_version == "working tree" else f" @{pair.producer_version}")
    consumer = pair.consumer + ("" if pair.consumer_version == "working tree" else f" @{pair.consumer_version}")
    if pair.reader_message != pair.message:
        consumer += f" (as {pair.reader_message.name})"
    return [pair.message.label, producer, consumer, _RESULT[pair.state.value][0]]


def _message_json(message, **more) -> dict:
    return {"channel": message.channel, "message": message.name, **more}


@contracts.command()
@selection_options
@click.option("--against", metavar="REF", help="Also check every pair live during a rollout from REF to the work tree.")
@_POLICY
@_JSON
@click.pass_context
def check(ctx: click.Context, against: str | None, policy: str, as_json: bool, **kwargs) -> int:
    """Every (producer, consumer) pair of every message in the fleet, as a matrix."""
    from metarepo.contracts.fleet import check_fleet

    from metarepo.cli.render import ProgressReporter

    manifest, projects = select(ctx, kwargs)
    reporter = ProgressReporter("contracts") if not as_json else None
    result = check_fleet(manifest, projects, against=against, policy=policy, jobs=jobs_from(kwargs),
                         **({"reporter": reporter} if reporter else {}))
    if as_json:
        emit_json({"ok": result.ok, "pairs": [p.as_json() for p in result.pairs],
                   "unpublished": [_message_json(m, consumer=c) for m, c in result.unpublished],
                   "unconsumed": [_message_json(m, producer=p) for m, p in result.unconsumed],
                   "notes": list(result.notes)})
        return 0 if result.ok else 1
    if result.pairs:
        colours = [[None, None, None, _RESULT[p.state.value][1]] for p in result.pairs]
        application().table(["MESSAGE", "PRODUCER", "CONSUMER", "RESULT"], [_pair_row(p) for p in result.pairs], colours)
    for pair in (*result.breaking, *result.undecided):
        _echo()
        verb = "breaks" if pair.state.value == "breaking" else "could not be decided"
        _echo(style(f"{pair.message.label}: {' -> '.join(_pair_row(pair)[1:3])} {verb}",
                    fg=_RESULT[pair.state.value][1], bold=True))
        for line in _verdict_lines(pair.verdict):
            _echo(line)
    for message, consumer in result.unpublished:
        _echo(style(f"error: {consumer} consumes {message.label!r}, which nobody publishes", fg="red", err=True),
              err=True)
    for message, producer in result.unconsumed:
        _echo(f"note: {producer} publishes {message.label!r}, which nobody consumes", err=True)
    for note in result.notes:
        application().note(note)
    broken = len(result.breaking)
    summary = (f"contracts: {len(result.pairs)} pairs, {broken} breaking, "
               + (f"{len(result.undecided)} undecided, " if result.undecided else "")
               + f"{len(result.unpublished)} consumed but unpublished")
    _echo(style(summary, fg="green" if result.ok else "red", err=True), err=True)
    return 0 if result.ok else 1


@contracts.command("record-deployment")
@click.argument("service")
@click.option("--env", "env", required=True, metavar="ENV", help="The environment (as in .meta).")
@click.option("--sha", required=True, metavar="SHA", help="The git commit now running (resolved in its clone).")
@click.option("--version", "version", metavar="V", help="The version now running.")
@click.option("--image", metavar="IMAGE", help="The image reference now running.")
@_JSON
@click.pass_context
def record_deployment(ctx: click.Context, service: str, env: str, sha: str, version: str | None,
                      image: str | None, as_json: bool) -> int:
    """Record in environments/ENV.json that SERVICE at SHA runs in ENV."""
    from metarepo.contracts.deploy import record_deployment as record

    manifest = manifest_from(ctx)
    file, deployment = record(manifest, service, env, sha, version, image)
    if as_json:
        emit_json({"file": str(file), "service": deployment.service, **deployment.as_json()})
    else:
        _echo(f"recorded {deployment.service} {deployment.sha[:12]}"
              + (f" ({deployment.version})" if deployment.version else "") + f" in {file}")
    return 0


@contracts.command("can-i-deploy")
@click.argument("service")
@click.option("--to", "env", required=True, metavar="ENV", help="The environment to deploy to.")
@click.option("--ref", metavar="REF", help="SERVICE's contracts at this git ref (default: its work tree).")
@_POLICY
@_JSON
@click.pass_context
def can_i_deploy(ctx: click.Context, service: str, env: str, ref: str | None, policy: str, as_json: bool) -> int:
    """Can SERVICE (at REF) go to ENV, given what every counterpart runs there? Exit 0 yes, 1 no or unknown."""
    from metarepo.contracts.deploy import NO, YES, can_i_deploy as decide

    result = decide(manifest_from(ctx), service, env, ref=ref, policy=policy)
    if as_json:
        emit_json({"service": result.service, "env": result.env, "answer": result.answer.value,
                   "pairs": [p.as_json() for p in result.pairs],
                   "unknown": [{"service": s, "reason": why} for s, why in result.unknown],
                   "not_deployed": list(result.not_deployed)})
        return 0 if result.answer == YES else 1
    colour = {YES: "green", NO: "red"}.get(result.answer, "yellow")
    _echo(style(f"{result.answer.value}: {result.service}" + (f" at {ref}" if ref else "") + f" to {env}",
                fg=colour, bold=True))
    if result.pairs:
        application().table(["MESSAGE", "PRODUCER", "CONSUMER", "RESULT"],
                    [[p.message.label, f"{p.producer} ({p.producer_version})", f"{p.consumer} ({p.consumer_version})",
                      _RESULT[p.state.value][0]] for p in result.pairs])
    for pair in result.pairs:
        if not pair.compatible:
            _echo(f"{pair.message.label}: {pair.producer} -> {pair.consumer}")
            for line in _verdict_lines(pair.verdict):
                _echo(line)
    for name, why in result.unknown:
        _echo(f"unknown: {name}: {why}")
    if result.not_deployed:  # nothing of theirs runs in env to break; each is checked against this when it deploys
        _echo(f"not deployed in {env} yet, checked when they deploy: {', '.join(result.not_deployed)}")
    return 0 if result.answer == YES else 1


@contracts.command()
@click.argument("services", nargs=-1)
@click.option("--to", "env", required=True, metavar="ENV", help="The environment to deploy to.")
@_POLICY
@_JSON
@click.pass_context
def plan(ctx: click.Context, services: tuple[str, ...], env: str, policy: str, as_json: bool) -> int:
    """An order to deploy SERVICES (default: every one whose HEAD is not what ENV runs) that never breaks a pair."""
    from metarepo.contracts.plan import changed_services, deploy_order

    manifest = manifest_from(ctx)
    names = list(services) or changed_services(manifest, env)
    order = deploy_order(manifest, names, env, policy=policy)
    if as_json:
        emit_json({"env": env, "order": order})
    elif not order:
        _echo(f"nothing to deploy to {env}")
    else:
        for step, name in enumerate(order, 1):
            _echo(f"{step}. {name}")
    return 0
