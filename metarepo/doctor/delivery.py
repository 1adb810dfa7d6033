"""The delivery check: is each repository's pipeline the one ``meta ci generate`` writes today?

Asked of ``metarepo.ci.generate.check`` for every repository at once (it
renders from the templates, remembers which files passed validation by
their content, and compares with what is on disk), so this costs what
``meta ci check`` costs. A project whose pipeline values are refused (no
``ci`` provider, no ``test``...) fails with that line and is left out of
the batch; if the batch still fails (a template that does not render for
one project), each project is asked alone, so the error lands on the
project it belongs to.
"""

from __future__ import annotations

from typing import Sequence

from metarepo.doctor.checks import PIPELINE
from metarepo.doctor.model import Result, failed, passed
from metarepo.errors import MetaError
from metarepo.manifest import Manifest, Project


def short(exc: MetaError, manifest: Manifest) -> str:
    """The error's line without the manifest's path in front (the scorecard is about that manifest), and
    without the command's hint (it names the other command's options)."""
    text = exc.message
    for prefix in (f"{manifest.file}: ", ".meta: "):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def pipeline_results(manifest: Manifest, projects: Sequence[Project],
                     default_branches: dict[str, str | None]) -> dict[str, Result]:
    """Each cloned project's delivery result, by name; ``default_branches``: origin/HEAD as read already."""
    from metarepo.ci.values import values_for

    results: dict[str, Result] = {}
    good: list[Project] = []
    for project in projects:
        try:
            values_for(manifest, project, branch_from_git=default_branches.get(project.name))
        except MetaError as exc:
            results[project.name] = failed(PIPELINE, f"{short(exc, manifest)}: fix that, then run `meta ci generate`")
            continue
        good.append(project)
    try:
        results.update(_in_step(manifest, good))
    except MetaError:
        for project in good:
            try:
                results.update(_in_step(manifest, [project]))
            except MetaError as exc:
                results[project.name] = failed(PIPELINE, f"the pipeline does not generate: {short(exc, manifest)}")
    return results


def _in_step(manifest: Manifest, projects: Sequence[Project]) -> dict[str, Result]:
    from metarepo.ci.generate import FileStatus, check

    if not projects:
        return {}
    states, _ = check(manifest, projects)
    by_project: dict[str, list] = {}
    for state in states:
        by_project.setdefault(state.project, []).append(state)
    out = {}
    for project in projects:
        files = by_project.get(project.name, [])
        off = [s for s in files if s.state is not FileStatus.UNCHANGED]
        if not off:
            out[project.name] = passed(PIPELINE, ", ".join(s.path for s in files))
            continue
        first = off[0]
        if first.state is FileStatus.MISSING:
            line = f"no {first.path} yet: run `meta ci generate`"
        elif first.state is FileStatus.STALE:
            line = f"{first.path} is left from another CI provider: `meta ci generate` removes it"
        else:
            line = f"{first.path} differs from its template: see `meta ci diff`, then run `meta ci generate`"
        more = f" (and {len(off) - 1} more file(s))" if len(off) > 1 else ""
        out[project.name] = failed(PIPELINE, line + more)
    return out

