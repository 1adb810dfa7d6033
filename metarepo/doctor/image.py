"""What the scorecard reads from a repository's Dockerfile: bases, HEALTHCHECK, the final USER, log writes.

The bases and the health check come from ``metarepo.images.dockerfile``
(the one parser); the final stage's ``USER`` (followed into the stage it is
built FROM, when it sets none), its ``VOLUME``s, and what its RUN, CMD,
ENTRYPOINT and ENV write are read here from the same ``instructions``. The
scripts the final stage copies in and starts are read from the build
context, bounded, and looked at for log files (``logfiles``).
"""

from __future__ import annotations

import json
import os
import posixpath
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from metarepo.doctor.logfiles import MAX_SCRIPT, is_log_folder, log_paths, writes_in_shell
from metarepo.manifest import Project


@dataclass(frozen=True)
class ImageFacts:
    """One repository's Dockerfile, as far as the scorecard asks."""

    dockerfile: str | None  # its path in the project; None when there is none
    error: str = ""  # why it could not be read or parsed (with its line)
    bases: tuple[str, ...] = ()
    healthcheck: bool = False
    healthcheck_disabled: bool = False
    user: str | None = None  # the final stage's USER (inherited from the stage it builds on), None if unset
    log_writes: tuple[str, ...] = ()  # "Dockerfile:7: RUN writes build.log", one per finding


@dataclass
class _Stage:
    name: str
    base: str
    user: str | None = None
    workdir: str = "/"
    copies: dict[str, str] = field(default_factory=dict)  # path in the image -> path in the context
    commands: list[tuple[int, str, str]] = field(default_factory=list)  # (line, word, arguments): CMD/ENTRYPOINT
    spans: list[tuple[int, int]] = field(default_factory=list)  # its instructions (and its bases'): [start, end)


def dockerfile_path(project: Project) -> str:
    """The Dockerfile's path in the project, as ``meta build`` finds it."""
    configured = project.setting("dockerfile")
    if isinstance(configured, str) and configured:
        return configured
    context = project.setting("context", ".")
    return posixpath.normpath(posixpath.join(context if isinstance(context, str) else ".", "Dockerfile"))


def _inside(project: Project, relative: str) -> Path | None:
    """``project.path / relative`` when its real path stays in the project, else None."""
    root = os.path.realpath(project.path)
    target = os.path.realpath(os.path.join(root, relative))
    return Path(target) if target == root or target.startswith(root + os.sep) else None


def read_image(project: Project) -> ImageFacts:
    from metarepo.images.dockerfile import DockerfileError, instructions, parse_dockerfile

    relative = dockerfile_path(project)
    path = _inside(project, relative)
    if path is None:
        return ImageFacts(relative, f"{relative} leads outside the project")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ImageFacts(None)
    except OSError as exc:
        return ImageFacts(relative, f"{relative}: cannot read it: {exc.strerror or exc}")
    build_args = project.setting("build_args")
    try:
        parsed = parse_dockerfile(text, build_args if isinstance(build_args, dict) else None)
    except DockerfileError as exc:
        return ImageFacts(relative, f"{relative}:{exc.line}: {exc}")
    steps = instructions(text)
    final = _final_stage(steps)
    context = project.setting("context", ".")
    writes = _log_writes(relative, steps, final, project, context if isinstance(context, str) else ".")
    return ImageFacts(relative, "", parsed.bases, parsed.healthcheck is not None, parsed.healthcheck_disabled,
                      final.user, tuple(writes))


def _final_stage(steps: list[tuple[int, str, str]]) -> _Stage:
    """The last stage, with what it inherits from the stage it is built FROM (USER, WORKDIR, files, CMD)."""
    stages: dict[str, _Stage] = {}
    current = _Stage("", "")
    for n, (line, word, arguments) in enumerate(steps):
        if word == "FROM":
            if current.spans:
                current.spans[-1] = (current.spans[-1][0], n)
            parts = [p for p in arguments.split() if not p.startswith("--")]
            name = parts[2].lower() if len(parts) >= 3 and parts[1].lower() == "as" else ""
            parent = stages.get((parts[0] if parts else "").lower())
            current = _Stage(name, (parts[0] if parts else "").lower())
            if parent is not None:
                current.user, current.workdir = parent.user, parent.workdir
                current.copies, current.commands = dict(parent.copies), list(parent.commands)
                current.spans = list(parent.spans)
            current.spans.append((n, len(steps)))
            if name:
                stages[name] = current
        elif word == "USER":
            current.user = arguments.strip() or None
        elif word == "WORKDIR":
            current.workdir = posixpath.join(current.workdir, arguments.strip().strip("\"'"))
        elif word in ("COPY", "ADD") and "--from" not in arguments:
            _record_copy(current, arguments)
        elif word in ("CMD", "ENTRYPOINT"):
            current.commands = [c for c in current.commands if c[1] != word] + [(line, word, arguments)]
    return current


def _record_copy(stage: _Stage, arguments: str) -> None:
    words = _words(" ".join(w for w in arguments.split() if not w.startswith("--")))
    if len(words) < 2:
        return
    *sources, dest = words
    dest = posixpath.join(stage.workdir, dest)
    for source in sources:
        if len(sources) > 1 or dest.endswith("/"):
            stage.copies[posixpath.join(dest, posixpath.basename(source.rstrip("/")))] = source
        else:
            stage.copies[posixpath.normpath(dest)] = source


def _words(arguments: str) -> list[str]:
    """An instruction's arguments: its JSON (exec) form, or shell words."""
    text = arguments.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
        except ValueError:
            pass
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _log_writes(dockerfile: str, steps: list[tuple[int, str, str]], final: _Stage, project: Project,
                context: str) -> list[str]:
    found: list[str] = []
    for line, word, arguments in (step for start, end in final.spans for step in steps[start:end]):
        at = f"{dockerfile}:{line}"
        if word == "RUN":
            found += [f"{at}: RUN writes {p}" for p in writes_in_shell(arguments)]
        elif word in ("CMD", "ENTRYPOINT"):
            shell = " ".join(_words(arguments))
            names = dict.fromkeys([*writes_in_shell(shell), *log_paths(shell)])
            found += [f"{at}: {word} writes {p}" for p in names]
        elif word == "ENV":
            found += [f"{at}: ENV names the log file {p}" for p in log_paths(arguments)]
        elif word == "VOLUME":
            found += [f"{at}: VOLUME {v} keeps logs in files" for v in _words(arguments) if is_log_folder(v)]
    for script in _started_scripts(final):
        source = final.copies.get(script)
        if source is None:
            continue
        relative = posixpath.normpath(posixpath.join(context or ".", source))
        path = _inside(project, relative)
        if path is None or not path.is_file():
            continue
        try:
            with open(path, "rb") as f:
                text = f.read(MAX_SCRIPT).decode("utf-8", errors="replace")
        except OSError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            names = dict.fromkeys([*writes_in_shell(line), *log_paths(line)]) if not line.lstrip().startswith(
                "#") else {}
            found += [f"{relative}:{number}: writes {p}" for p in names if not _linked_to_stream(line)]
    return found


def _linked_to_stream(line: str) -> bool:
    return "/dev/stdout" in line or "/dev/stderr" in line


def _started_scripts(final: _Stage) -> list[str]:
    """The image paths that the final stage's CMD and ENTRYPOINT name (the scripts they may start)."""
    paths = []
    for _, _, arguments in final.commands:
        for word in _words(arguments):
            if word.startswith("-") or "/" not in word and "." not in word:
                continue
            paths.append(posixpath.normpath(posixpath.join(final.workdir, word)))
    return paths
