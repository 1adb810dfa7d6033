"""Git, called directly through subprocess on the hot paths.

Every call runs with no standard input and ``GIT_TERMINAL_PROMPT=0`` (a
remote that wants a password fails at once instead of prompting), a time
limit (``META_GIT_TIMEOUT``, default 600 s, so a hung remote cannot hang the
fleet) and credentials redacted from anything shown.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from metarepo.errors import GitError
from metarepo.runner import child_env, run_captured
from metarepo.urls import redact, redact_text

_TRANSIENT = re.compile(
    r"Could not resolve host|Connection timed out|Connection reset|early EOF|RPC failed|"
    r"The remote end hung up unexpectedly|Operation timed out|Temporary failure|"
    r"unexpected disconnect|transfer closed|Failed to connect|503 Service|502 Bad Gateway",
    re.IGNORECASE,
)


def is_transient(stderr: str) -> bool:
    """Whether a failed network operation is worth retrying.

    Known network failures are; so is a failure with no message at all (a
    connection dropped before git could say anything). Refusals that git
    explains (authentication, repository not found) are not.
    """
    return not stderr.strip() or bool(_TRANSIENT.search(stderr))


def git_timeout() -> float:
    try:
        return float(os.environ.get("META_GIT_TIMEOUT", "600"))
    except ValueError:
        return 600.0


def git_env() -> dict[str, str]:
    env = child_env()
    # A remote that accepts the connection and then says nothing must not hang us.
    env.setdefault("GIT_HTTP_LOW_SPEED_LIMIT", "1000")
    env.setdefault("GIT_HTTP_LOW_SPEED_TIME", "60")
    return env


def run_git(args: Sequence[str], cwd: str | os.PathLike[str] | None = None, *,
            timeout: float | None = None, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in ``cwd``; raises ``GitError`` (stderr redacted) when ``check``."""
    argv = ["git", *args]
    try:
        proc = run_captured(argv, cwd=cwd, env=env or git_env(), timeout=timeout or git_timeout())
    except subprocess.TimeoutExpired:
        raise GitError(f"git {_shown(args)} timed out after {timeout or git_timeout():.0f}s",
                       hint="is the remote reachable? META_GIT_TIMEOUT sets the limit", timed_out=True) from None
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if check and proc.returncode != 0:
        raise GitError(f"git {_shown(args)} failed: {first_error_line(proc.stderr)}",
                       stderr=redact_text(proc.stderr))
    return proc


def _shown(args: Sequence[str]) -> str:
    return " ".join(redact(a) for a in args[:2])


def first_error_line(stderr: str) -> str:
    """The line of git's stderr worth showing (``fatal:``/``error:`` first)."""
    lines = [line.strip() for line in redact_text(stderr).splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return lines[-1] if lines else "no message"


def clone(url: str, dest: Path, *, depth: int | None = None, branch: str | None = None,
          retries: int = 2, backoff: float = 1.0) -> None:
    """Clone ``url`` into ``dest``, retrying transient network failures ``retries`` times."""
    args = ["clone", "--quiet"]
    if depth:
        args += ["--depth", str(int(depth)), "--no-single-branch"]
    if branch:
        args += ["--branch", branch]
    args += ["--", url, str(dest)]
    for attempt in range(retries + 1):
        try:
            run_git(args)
            return
        except GitError as exc:
            if attempt >= retries or exc.timed_out or not is_transient(exc.stderr):
                raise
            _remove_partial(dest)
            time.sleep(backoff * (2 ** attempt))  # a Ctrl-C meanwhile stops the next attempt


def _remove_partial(dest: Path) -> None:
    import shutil

    if dest.exists():
        shutil.rmtree(dest, ignore_errors=True)


def git_dir(path: Path) -> Path | None:
    """The ``.git`` directory of a work tree at ``path`` (following a gitfile), or None."""
    dot = path / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():
        try:
            text = dot.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        if text.startswith("gitdir:"):
            target = Path(text[len("gitdir:"):].strip())
            return target if target.is_absolute() else (path / target).resolve()
    return None


def is_work_tree(path: Path) -> bool:
    return git_dir(path) is not None


_SECTION = re.compile(r'^\s*\[\s*remote\s+"(?P<name>[^"]*)"\s*\]')
_URL = re.compile(r"^\s*url\s*=\s*(?P<url>.*?)\s*$", re.IGNORECASE)


def remote_url(path: Path, remote: str = "origin", *, gd: Path | None = None,
               env: dict[str, str] | None = None) -> str | None:
    """The URL of ``remote``, read straight from ``.git/config`` (no process).

    Falls back to ``git config`` when the file uses includes or
    ``insteadOf`` rewriting, which only git itself resolves correctly.
    ``gd`` is the clone's git directory when the caller already knows it.
    """
    gd = gd or git_dir(path)
    if gd is None:
        return None
    config = gd / "config"
    if not config.is_file():  # a linked worktree keeps config in the common dir
        common = gd / "commondir"
        if common.is_file():
            config = (gd / common.read_text().strip()) / "config"
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if "[include" in text or "insteadof" in text.lower():
        proc = run_git(["config", "--get", f"remote.{remote}.url"], cwd=path, check=False, env=env)
        return proc.stdout.strip() or None
    current = None
    for line in text.splitlines():
        section = _SECTION.match(line)
        if section:
            current = section.group("name")
            continue
        if line.lstrip().startswith("["):
            current = None
            continue
        if current == remote:
            match = _URL.match(line)
            if match:
                value = match.group("url")
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                return value
    return None


@dataclass(frozen=True)
class BranchStatus:
    """What ``git status --porcelain=v2 --branch`` says about a work tree."""

    oid: str | None
    branch: str | None  # None when detached
    upstream: str | None
    ahead: int
    behind: int
    changed: int
    untracked: int
    conflicted: int

    @property
    def dirty(self) -> int:
        return self.changed + self.untracked + self.conflicted


def parse_status_v2(text: str) -> BranchStatus:
    oid = branch = upstream = None
    ahead = behind = changed = untracked = conflicted = 0
    for line in text.splitlines():
        if line.startswith("# branch.oid "):
            value = line[13:].strip()
            oid = None if value == "(initial)" else value
        elif line.startswith("# branch.head "):
            value = line[14:].strip()
            branch = None if value == "(detached)" else value
        elif line.startswith("# branch.upstream "):
            upstream = line[18:].strip()
        elif line.startswith("# branch.ab "):
            a, b = line[12:].split()
            ahead, behind = int(a), -int(b)
        elif line.startswith(("1 ", "2 ")):
            changed += 1
        elif line.startswith("u "):
            conflicted += 1
        elif line.startswith("? "):
            untracked += 1
    return BranchStatus(oid, branch, upstream, ahead, behind, changed, untracked, conflicted)


def branch_status(path: Path, *, env: dict[str, str] | None = None) -> BranchStatus:
    proc = run_git(["status", "--porcelain=v2", "--branch"], cwd=path, env=env)
    return parse_status_v2(proc.stdout)


def head_commit(path: Path) -> str:
    return run_git(["rev-parse", "HEAD"], cwd=path).stdout.strip()


def commit_summary(path: Path, rev: str = "HEAD", *, env: dict[str, str] | None = None) -> tuple[int, str]:
    """(commit time as a Unix timestamp, subject) of ``rev``."""
    out = run_git(["log", "-1", "--format=%ct%x00%s", rev, "--"], cwd=path, env=env).stdout
    stamp, _, subject = out.rstrip("\n").partition("\0")
    return int(stamp or 0), subject


def default_branch(path: Path, remote: str = "origin") -> str | None:
    """The remote's default branch as this clone knows it (``origin/HEAD``)."""
    proc = run_git(["symbolic-ref", "--quiet", "--short", f"refs/remotes/{remote}/HEAD"], cwd=path,
                   check=False)
    name = proc.stdout.strip()
    if proc.returncode == 0 and name.startswith(f"{remote}/"):
        return name[len(remote) + 1:]
    return None
