"""``meta init``, ``clone``, ``update``, ``status``, ``lock``."""

from __future__ import annotations

from pathlib import Path

import click

from metarepo.cli.app import application
from metarepo.cli.common import jobs_from, json_option, select, selection_options


@click.command()
@click.pass_context
def init(ctx: click.Context) -> int:
    """Make an empty .meta in this folder (or -C DIR)."""
    from metarepo.workspace.projects import init_manifest

    app = application(ctx)
    file = init_manifest(Path(app.root or Path.cwd()))
    app.echo(f"created {file}")
    return 0


def _outcomes_json(run) -> list[dict]:
    return [{"project": o.key, "status": o.state, "result": o.value if isinstance(o.value, str) else None,
             "reason": o.reason or None, "seconds": round(o.seconds, 3)} for o in run.outcomes]


@click.command()
@click.argument("url")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--depth", type=click.IntRange(min=1), help="Shallow-clone every repository to N commits.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, envvar="META_JOBS",
              help="Clones at once (default: 4 or the cores, whichever is more).")
@json_option
def clone(url: str, directory: Path | None, depth: int | None, jobs: int | None, as_json: bool) -> int:
    """Clone the meta repo at URL, then every project in it, in parallel."""
    from metarepo.runner import default_jobs
    from metarepo.workspace.clone import clone_meta, clone_projects, default_dir

    app = application()
    dest = directory or Path(default_dir(url))
    manifest = clone_meta(url, dest, depth=depth)
    run = clone_projects(manifest.projects, jobs=jobs or max(4, default_jobs()), depth=depth,
                         reporter=app.reporter("clone"))
    if as_json:
        app.json({"root": str(manifest.root), "projects": _outcomes_json(run)})
    else:
        app.failures(run)
        app.summary(f"clone {dest}", run, ok_word="cloned or present")
    return app.exit_status(run)


@click.command()
@selection_options
@click.option("--locked", is_flag=True, help="Check out the commits in .meta.lock instead of pulling.")
@click.option("--depth", type=click.IntRange(min=1), help="Shallow-clone missing projects to N commits.")
@json_option
@click.pass_context
def update(ctx: click.Context, locked: bool, depth: int | None, as_json: bool, **kwargs) -> int:
    """Clone missing projects; fast-forward the rest (dirty or diverged ones are skipped)."""
    from metarepo.runner import default_jobs
    from metarepo.workspace.clone import update_projects
    from metarepo.workspace.lock import read_lock

    app = application(ctx)
    manifest, projects = select(ctx, kwargs)
    commits = read_lock(manifest) if locked else None
    run = update_projects(projects, jobs=jobs_from(kwargs, max(4, default_jobs())), depth=depth,
                          locked=commits, reporter=app.reporter("update"))
    if as_json:
        app.json({"projects": _outcomes_json(run)})
    else:
        changed = [o for o in run.outcomes if o.ok and o.value not in ("up to date",)]
        for o in changed:
            app.echo(f"{o.key}: {o.value}")
        app.failures(run)
        app.summary("update", run)
    return app.exit_status(run)


@click.command()
@selection_options
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool, **kwargs) -> int:
    """One table: branch, dirty files, ahead/behind, last commit, per project."""
    from metarepo.workspace.status import age, collect_status

    app = application(ctx)
    manifest, projects = select(ctx, kwargs)
    run, rows = collect_status(manifest, projects, jobs=jobs_from(kwargs))
    if as_json:
        app.json({"root": str(manifest.root), "projects": [r.as_json() for r in rows]})
        return app.exit_status(run)
    if not rows:
        app.info(f"no projects in {manifest.file} (add one: meta project add PATH URL)")
        return 0
    cells, colours = [], []
    for r in rows:
        if not r.cloned:
            cells.append([r.project, "", "", "", "", r.error or "not cloned"])
            colours.append([None, None, None, None, None, "yellow"])
            continue
        notes = []
        if r.error:
            notes.append(r.error)
        if not r.origin_matches:
            notes.append(f"origin {r.origin or 'missing'} differs from .meta")
        if r.detached:
            notes.append("detached")
        elif r.branch and not r.upstream:
            notes.append("no upstream")
        ab = "" if not (r.ahead or r.behind) else f"↑{r.ahead} ↓{r.behind}"
        dirty = str(r.dirty) if r.dirty else ""
        branch = r.branch or (f"({(r.commit or '')[:8]})" if r.commit else "")
        last = f"{age(r.commit_time):>4} {r.subject or ''}" if r.commit_time else ""
        cells.append([r.project, branch, dirty, ab, last, "; ".join(notes)])
        colours.append([None, "cyan", "red" if dirty else None, "yellow" if ab else None, None,
                        "red" if notes else None])
    from metarepo.cli.render import clip

    cells = [row[:4] + [clip(row[4], 60)] + row[5:] for row in cells]
    app.table(["PROJECT", "BRANCH", "DIRTY", "AHEAD/BEHIND", "LAST COMMIT", "NOTE"], cells, colours)
    dirty = sum(1 for r in rows if r.dirty)
    missing = sum(1 for r in rows if not r.cloned)
    app.echo(app.style(f"{len(rows)} projects, {dirty} dirty, {missing} not cloned · {run.seconds:.2f}s",
                       dim=True, err=True), err=True)
    return app.exit_status(run)


@click.command()
@selection_options
@click.pass_context
def lock(ctx: click.Context, **kwargs) -> int:
    """Write .meta.lock: each project's current commit (all must be cloned)."""
    from metarepo.workspace.lock import lock_projects

    app = application(ctx)
    manifest, projects = select(ctx, kwargs)
    run, data = lock_projects(manifest, projects, jobs=jobs_from(kwargs))
    if not run.ok:
        app.failures(run)
        app.info(".meta.lock not written: every selected project must be cloned")
        return 1
    app.echo(f"locked {len(data['projects'])} projects in {manifest.root / '.meta.lock'}")
    return 0
