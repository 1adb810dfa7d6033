"""One exception tree for the whole tool; the CLI boundary turns it into one line.

Every error carries the message a user reads and the exit status it ends with:
2 for bad input (a malformed manifest, an unknown option value), 1 for work
that failed, 130 for an interrupt. Anything that is not a ``MetaError`` is a
bug and gets a traceback and exit status 3.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: what
# would break a one-line message across lines or drive the terminal.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with control characters escaped as ``repr`` would (``\\n``, ``\\x1b``), nothing else changed."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class MetaError(Exception):
    """Base of every error the user is meant to read."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(MetaError):
    """Bad input: a wrong argument, a malformed file, an unknown name."""

    exit_code = 2


class ManifestError(UsageError):
    """The ``.meta`` file (or another input file) is malformed or refused."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: int | None = None, key: str | None = None, hint: str | None = None) -> None:
        where = []
        if file:
            loc = printable(file)
            if line is not None:
                loc += f":{line}"
                if column is not None:
                    loc += f":{column}"
            where.append(loc)
        if key:
            where.append(printable(key))
        prefix = ": ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message, hint=hint)
        self.file, self.line, self.column, self.key = file, line, column, key


class NotFoundError(UsageError):
    """Something named by the user does not exist (a project, an environment, a root)."""


class GitError(MetaError):
    """A git command failed."""

    def __init__(self, message: str, *, stderr: str = "", hint: str | None = None,
                 timed_out: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.stderr = stderr
        self.timed_out = timed_out


class WorkFailed(MetaError):
    """Work ran but did not succeed (some projects failed); exit status 1."""


class Interrupted(MetaError):
    """Ctrl-C: children ended, a partial report shown, exit 130."""

    exit_code = 130


class EngineUnavailable(MetaError):
    """An external engine (Docker, a registry, a cluster) cannot be reached."""
