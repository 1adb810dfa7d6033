"""A meta repo's own checks: shell commands in ``.meta``, run in every repository; exit 0 passes.

::

    "metarepo": {"doctor": {"checks": [
        {"name": "license", "group": "meta", "run": "test -f LICENSE", "timeout": 10,
         "hint": "add a LICENSE file"}
    ]}}

``name`` (letters, digits, ``-`` and ``_``) and ``run`` are required;
``group`` defaults to ``custom`` and may name one of the architecture's
groups or a new one; ``timeout`` is in seconds (default 60); ``hint`` is
the line shown when it fails (else the command's last line of output, or its
exit status). Each runs through the runner, in the repository's folder,
with ``META_PROJECT``, ``META_PROJECT_PATH``, ``META_PROJECT_URL`` and
``META_ROOT`` in its environment (as ``meta exec``): the command is the
meta repo's text, never one built from a project's name or path.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

from metarepo.doctor.model import Check, Result, failed, passed
from metarepo.errors import ManifestError
from metarepo.manifest import Manifest, Project

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
DEFAULT_TIMEOUT = 60.0
_KEYS = {"name", "group", "run", "timeout", "hint"}


@dataclass(frozen=True)
class CustomCheck:
    check: Check
    run: str
    timeout: float = DEFAULT_TIMEOUT
    hint: str = ""


def custom_checks(manifest: Manifest, builtin: Sequence[Check]) -> tuple[CustomCheck, ...]:
    """``metarepo.doctor.checks``, checked: one line naming the key for anything malformed."""
    file = str(manifest.file)
    doctor = manifest.settings.get("doctor")
    if doctor is None:
        return ()
    if not isinstance(doctor, dict):
        raise ManifestError("must be an object ({\"checks\": [...]})", file=file, key="metarepo.doctor")
    raw = doctor.get("checks", [])
    if not isinstance(raw, list):
        raise ManifestError("must be a list of {name, group, run}", file=file, key="metarepo.doctor.checks")
    taken = {c.id for c in builtin}
    out = []
    for n, item in enumerate(raw):
        key = f"metarepo.doctor.checks[{n}]"
        if not isinstance(item, dict):
            raise ManifestError("must be an object {name, group, run}", file=file, key=key)
        unknown = sorted(set(item) - _KEYS - {k for k in item if k.startswith("//")})
        if unknown:
            raise ManifestError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})", file=file,
                                key=key)
        name, group, run = item.get("name"), item.get("group", "custom"), item.get("run")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ManifestError("a check needs a name: letters, digits, '-' and '_'", file=file, key=f"{key}.name")
        if not isinstance(group, str) or not _NAME.match(group):
            raise ManifestError("must be a group name: letters, digits, '-' and '_'", file=file, key=f"{key}.group")
        if not isinstance(run, str) or not run.strip():
            raise ManifestError("must be the shell command to run (exit 0 passes)", file=file, key=f"{key}.run")
        timeout = item.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
                or timeout <= 0:
            raise ManifestError("must be a number of seconds above 0", file=file, key=f"{key}.timeout")
        hint = item.get("hint", "")
        if not isinstance(hint, str):
            raise ManifestError("must be the line to show when the check fails", file=file, key=f"{key}.hint")
        check = Check(group, name, run, custom=True)
        if check.id in taken:
            raise ManifestError(f"{check.id} is already a check; give it another name", file=file,
                                key=f"{key}.name")
        taken.add(check.id)
        out.append(CustomCheck(check, run, float(timeout), hint))
    return tuple(out)


def run_custom(manifest: Manifest, projects: Sequence[Project], checks: Sequence[CustomCheck], *,
               jobs: int, reporter: Any = None) -> dict[tuple[str, str], Result]:
    """Every (cloned project, check) run in parallel; (project name, check id) -> result."""
    from metarepo.report import NULL
    from metarepo.runner import child_env, run_command, run_parallel
    from metarepo.workspace.execute import project_env, shell_argv

    base = child_env()
    # one item per (project, check), keyed by a string a progress bar can show
    items = {f"{p.name} {c.check.id}": (p, c) for p in projects for c in checks}

    def work(key: str) -> Result:
        project, custom = items[key]
        env = project_env(manifest, project, base)
        result = run_command(shell_argv(custom.run), cwd=project.path, env=env, timeout=custom.timeout)
        last = _last_line(result.output.text(4096))
        result.output.close()
        if result.timed_out:
            return failed(custom.check, f"timed out after {custom.timeout:g}s: {custom.hint or custom.run}")
        if result.returncode == 0:
            return passed(custom.check)
        return failed(custom.check, custom.hint or last or f"`{custom.run}` exited {result.returncode}")

    run = run_parallel(list(items), work, jobs=jobs, reporter=reporter or NULL)
    if run.interrupted:
        from metarepo.errors import Interrupted

        raise Interrupted("interrupted: no scorecard")
    out = {}
    for outcome in run.outcomes:
        project, custom = items[str(outcome.key)]
        if outcome.ok:
            out[(project.name, custom.check.id)] = outcome.value
        else:  # could not be started
            out[(project.name, custom.check.id)] = failed(custom.check, f"could not run `{custom.run}`: "
                                                                        f"{outcome.reason or outcome.state}")
    return out


def _last_line(text: str) -> str:
    from metarepo.errors import printable

    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return printable(lines[-1])[:200] if lines else ""
