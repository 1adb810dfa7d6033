"""A static look for log files written inside a container: the scorecard's "logs go to stdout" check.

A service in this architecture writes its log to stdout and stderr, and the
cluster ships it (an environment's ``logging`` driver); a log file inside
the container fills its layer, is lost with it and is never shipped. What
this finds, in the Dockerfile's final stage and in the scripts it copies in
and starts (its ENTRYPOINT/CMD):

- a shell redirection or ``tee`` into a ``*.log`` file (``>> /var/log/app.log``,
  ``2> err.log``, ``| tee -a out.log``), in a RUN (a build log left in the
  image), CMD or ENTRYPOINT, or in such a script;
- a ``*.log`` path handed to the program (``--log-file=/var/log/app.log``) or
  set in an ENV;
- a ``VOLUME`` for a log folder (``/var/log``, ``/app/logs``): logs meant to
  be written to files.

What it cannot see: a log file the program opens itself (a logback file
appender, Python's ``FileHandler``, an nginx.conf ``access_log``), a path
made at run time or not ending in ``.log``, what the base image does, and
scripts the entrypoint reaches other than directly. Linking a log file to
the standard streams (``ln -sf /dev/stdout /var/log/nginx/access.log``, the
official images' way) is not a write and is not reported.
"""

from __future__ import annotations

import re

# A redirection of some stream into a file whose name ends in .log (quoted or not).
_REDIRECT = re.compile(r"(?:^|[^<>&\w])(?:\d|&)?>>?\|?\s*([\"']?)(?P<path>[^\s;|&<>\"'()]+\.log)\1(?![\w.])")
_TEE = re.compile(r"\btee\s+(?:-[a-z]+\s+)*([\"']?)(?P<path>[^\s;|&<>\"'()]+\.log)\1(?![\w.])")
_WORDS = re.compile(r"[^\s;|&<>\"'=,()]+")  # the words a path can be (split, not searched: linear in the text)
_PATH_START = re.compile(r"(?:/|\./|\$\{?\w+\}?/)")
_LOG_FOLDER = re.compile(r"(?:^|/)(?:logs?|log-files?)/?$", re.IGNORECASE)

MAX_SCRIPT = 256 * 1024  # bytes of an entrypoint script read; the rest is not looked at


def writes_in_shell(text: str) -> list[str]:
    """The ``*.log`` files a shell text writes to (redirections and ``tee``), in order, once each."""
    found: dict[str, None] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for pattern in (_REDIRECT, _TEE):
            for match in pattern.finditer(line):
                found.setdefault(match.group("path"))
    return list(found)


def log_paths(text: str) -> list[str]:
    """Every ``*.log`` path named in ``text`` (program arguments, an ENV value)."""
    words = (m.group() for m in _WORDS.finditer(text))
    return list(dict.fromkeys(w for w in words if w.endswith(".log") and _PATH_START.match(w)))


def is_log_folder(path: str) -> bool:
    """``/var/log``, ``/app/logs``, ``logs/``: a folder meant for log files."""
    return bool(_LOG_FOLDER.search(path.rstrip("/") + "/"))
