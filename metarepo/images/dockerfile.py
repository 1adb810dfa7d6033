"""What metarepo reads from a Dockerfile: the images it builds FROM, and its HEALTHCHECK.

Only enough of the syntax to answer those two questions, as the Docker
builder reads it: comments, line continuations (with the ``escape``
directive), ``ARG`` values before the first ``FROM`` (overridden by build
arguments), ``$VAR``/``${VAR}``/``${VAR:-default}`` in ``FROM``, stage names
(``FROM base AS build`` ... ``FROM build``: not an image), and the
final stage's ``HEALTHCHECK``.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Mapping

from metarepo.images.release import Healthcheck

_DIRECTIVE = re.compile(r"^#\s*escape\s*=\s*(\S)\s*$", re.IGNORECASE)
_VAR = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::?(?P<op>[-+])(?P<word>[^}]*))?\}"
                  r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class DockerfileError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Dockerfile:
    bases: tuple[str, ...]  # every image a stage is built FROM (stage names left out), in order
    healthcheck: Healthcheck | None  # the final stage's; None when it sets none (or NONE)
    healthcheck_disabled: bool = False  # HEALTHCHECK NONE


def instructions(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments), continuation lines joined."""
    escape = "\\"
    lines = text.splitlines()
    for line in lines:
        match = _DIRECTIVE.match(line.strip())
        if match:
            escape = match.group(1)
            break
        if not line.startswith("#"):
            break
    result = []
    buffer, start = "", 0
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # comments inside a continued instruction are dropped, as the builder does
        if not buffer:
            start = number
        if stripped.endswith(escape):
            buffer += stripped[:-1] + " "
            continue
        buffer += stripped
        word, _, rest = buffer.partition(" ")
        result.append((start, word.upper(), rest.strip()))
        buffer = ""
    if buffer:
        word, _, rest = buffer.partition(" ")
        result.append((start, word.upper(), rest.strip()))
    return result


def substitute(value: str, variables: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        current = variables.get(name)
        op = match.group("op")
        if op == "-":
            return current if current else match.group("word")
        if op == "+":
            return match.group("word") if current else ""
        return current or ""

    return _VAR.sub(one, value)


def parse_duration(text: str, line: int) -> float:
    """Go's duration syntax (``30s``, ``1m30s``, ``500ms``) in seconds."""
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise DockerfileError(f"invalid duration {text!r}", line)
    return total


def parse_healthcheck(arguments: str, line: int) -> Healthcheck | None:
    options: dict[str, str] = {}
    rest = arguments
    while rest.startswith("--"):
        option, _, rest = rest.partition(" ")
        key, _, value = option[2:].partition("=")
        options[key.lower()] = value
        rest = rest.lstrip()
    kind, _, command = rest.partition(" ")
    if kind.upper() == "NONE":
        return None
    if kind.upper() != "CMD":
        raise DockerfileError("HEALTHCHECK needs CMD or NONE", line)
    command = command.strip()
    if command.startswith("["):
        try:
            argv = json.loads(command)
        except ValueError:
            argv = None
        if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            test: tuple[str, ...] = ("CMD", *argv)
        else:
            test = ("CMD-SHELL", command)
    else:
        test = ("CMD-SHELL", command)
    durations = {key: parse_duration(options[key], line) for key in ("interval", "timeout", "start-period")
                 if key in options}
    try:
        retries = int(options.get("retries", "3"))
    except ValueError:
        raise DockerfileError(f"invalid --retries {options['retries']!r}", line) from None
    return Healthcheck(test=test, interval=durations.get("interval", 30.0), timeout=durations.get("timeout", 30.0),
                       retries=retries, start_period=durations.get("start-period", 0.0))


def parse_dockerfile(text: str, build_args: Mapping[str, str] | None = None) -> Dockerfile:
    """The bases and final health check of a Dockerfile; ``DockerfileError`` (with its line) if malformed."""
    args: dict[str, str] = {}
    build_args = dict(build_args or {})
    stages: set[str] = set()
    bases: list[str] = []
    healthcheck: Healthcheck | None = None
    disabled = False
    seen_from = False
    for line, word, arguments in instructions(text):
        if word == "ARG" and not seen_from:
            for item in shlex.split(arguments):
                name, eq, default = item.partition("=")
                args[name] = build_args.get(name, default if eq else "")
        elif word == "FROM":
            seen_from = True
            parts = [p for p in arguments.split() if not p.startswith("--")]
            if not parts:
                raise DockerfileError("FROM needs an image", line)
            image = substitute(parts[0], args)
            if image.lower() not in stages and image != "scratch":
                bases.append(image)
            if len(parts) >= 3 and parts[1].lower() == "as":
                stages.add(parts[2].lower())
            healthcheck, disabled = None, False  # each stage starts over
        elif word == "HEALTHCHECK":
            healthcheck = parse_healthcheck(arguments, line)
            disabled = healthcheck is None
    if not seen_from:
        raise DockerfileError("no FROM instruction", 1)
    return Dockerfile(tuple(bases), healthcheck, disabled)
