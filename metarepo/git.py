"""Git, called directly through subprocess on the hot paths.

Every call runs with no standard input and ``GIT_TERMINAL_PROMPT=0`` (a
remote that wants a password fails at once instead of prompting), a time
limit (``META_GIT_TIMEOUT``, default 600 s, so a hung remote cannot hang the
fleet) and credentials redacted from anything shown. A call that talks to a
remote over the network also runs with ``--progress`` and is ended when it
says nothing for ``META_GIT_IDLE_TIMEOUT`` (default 60 s): git has no connect
timeout of its own for ``git://`` or an HTTPS handshake, so a remote that
accepts the connection and never answers would otherwise hold it for the
whole time limit.

A clone is made in a hidden sibling folder and renamed into place when git
has finished, so a clone that is killed part way never looks present; what
such a kill leaves behind is removed by the next clone beside it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from metarepo.errors import GitError
from metarepo.files import umask
from metarepo.runner import child_env, run_captured
from metarepo.urls import redact, redact_text
from metarepo.worktree import CloneState, clone_state, git_dir

__all__ = ["git_dir"]  # re-exported: it lives with the other on-disk checks in ``worktree``

_TRANSIENT = re.compile(
    r"Could not resolve host|Connection timed out|Connection reset|early EOF|RPC failed|"
    r"The remote end hung up unexpectedly|Operation timed out|Temporary failure|"
    r"unexpected disconnect|transfer closed|Failed to connect|503 Service|502 Bad Gateway",
    re.IGNORECASE,
)


# What git says while it works (with --progress), as opposed to what went wrong.
_CHATTER = re.compile(r"^(Cloning into |remote: |warning: redirecting)|\(\d+/\d+\)|\d+% ")


def _said(stderr: str) -> list[str]:
    """The lines of git's stderr that say something: progress redrawn to its last state, chatter left out."""
    return [line.strip() for line in _final_lines(stderr).split("\n")
            if line.strip() and not _CHATTER.search(line.strip())]


def is_transient(stderr: str) -> bool:
    """Whether a failed network operation is worth retrying.

    Known network failures are; so is a failure with no message at all (a
    connection dropped before git could say anything). Refusals that git
    explains (authentication, repository not found) are not.
    """
    said = _said(stderr)
    return not said or bool(_TRANSIENT.search("\n".join(said)))


def _seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if 0 < value < float("inf") else default


def git_timeout() -> float:
    """``META_GIT_TIMEOUT``: the most any one git call may take (default 600 s)."""
    return _seconds("META_GIT_TIMEOUT", 600.0)


def idle_timeout() -> float:
    """``META_GIT_IDLE_TIMEOUT``: how long a network git call may say nothing (default 60 s)."""
    return _seconds("META_GIT_IDLE_TIMEOUT", 60.0)


_LIMITS_HINT = "is the remote reachable? META_GIT_IDLE_TIMEOUT and META_GIT_TIMEOUT set the limits"


def is_network(url: str) -> bool:
    """Whether ``url`` reaches a server (``https://``, ``git://``, ``ssh://``, ``host:path``), not a local path."""
    if "://" in url:
        return not url.lower().startswith("file://")
    before, colon, _ = url.partition(":")
    return bool(colon) and "/" not in before and len(before) > 1  # scp-like; a drive letter is local


def git_env() -> dict[str, str]:
    env = child_env()
    # A remote that accepts the connection and then says nothing must not hang us.
    env.setdefault("GIT_HTTP_LOW_SPEED_LIMIT", "1000")
    env.setdefault("GIT_HTTP_LOW_SPEED_TIME", "60")
    return env


def run_git(args: Sequence[str], cwd: str | os.PathLike[str] | None = None, *,
            timeout: float | None = None, check: bool = True,
            env: dict[str, str] | None = None, idle: float | None = None) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in ``cwd``; raises ``GitError`` (stderr redacted) when ``check``.

    ``idle`` ends the call when git says nothing for that long (give git
    ``--progress`` so a working transfer keeps talking).
    """
    argv = ["git", *args]
    limit = timeout or git_timeout()
    try:
        proc = run_captured(argv, cwd=cwd, env=env or git_env(), timeout=limit, idle=idle)
    except subprocess.TimeoutExpired as exc:
        if idle is not None and exc.timeout == idle and idle < limit:
            raise GitError(f"git {_shown(args)}: no answer from the remote for {idle:g}s", hint=_LIMITS_HINT,
                           timed_out=True) from None
        raise GitError(f"git {_shown(args)} timed out after {limit:g}s", hint=_LIMITS_HINT,
                       timed_out=True) from None
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if check and proc.returncode != 0:
        raise GitError(f"git {_shown(args)} failed: {first_error_line(proc.stderr)}",
                       stderr=_final_lines(redact_text(proc.stderr)))
    return proc


def run_remote(args: Sequence[str], url: str, cwd: str | os.PathLike[str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` that talks to ``url`` (``ARGS`` without ``--quiet``): ended if a network remote falls silent.

    Over the network git reports progress (``--progress``), so silence means
    a remote that does not answer; a local one needs no watchdog, and stays
    quiet (which is faster).
    """
    command, rest = args[0], list(args[1:])
    if is_network(url):
        return run_git([command, "--progress", *rest], cwd=cwd, idle=idle_timeout())
    return run_git([command, "--quiet", *rest], cwd=cwd)


def _final_lines(stderr: str) -> str:
    """``stderr`` with each progress line as it ended (git redraws them with ``\\r``)."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in stderr.split("\n"))


def _shown(args: Sequence[str]) -> str:
    """The command and its first operand (``clone URL``, ``fetch origin``), credentials hidden."""
    operands = [a for a in args[1:] if not a.startswith("-")][:1]
    return " ".join(redact(a) for a in [*args[:1], *operands])


def first_error_line(stderr: str) -> str:
    """The line of git's stderr worth showing (``fatal:``/``error:`` first)."""
    lines = _said(redact_text(stderr))
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return lines[-1] if lines else "no message"


CLONE_MARK = ".meta-clone-"  # in the name of the hidden sibling a clone is made in


def clone(url: str, dest: Path, *, depth: int | None = None, branch: str | None = None,
          retries: int = 2, backoff: float = 1.0) -> None:
    """Clone ``url`` into ``dest``, retrying transient network failures ``retries`` times.

    git writes into a hidden sibling (``.NAME.meta-clone-PID-XXXX``), renamed
    to ``dest`` only once the clone is whole, so ``dest`` never holds half a
    clone; ``dest`` may be missing or an empty folder. If another clone got
    there first (``dest`` is a finished clone now), this one is dropped.
    """
    dest = Path(dest)
    args = ["clone"]
    if depth:
        args += ["--depth", str(int(depth)), "--no-single-branch"]
    if branch:
        args += ["--branch", branch]
    for attempt in range(retries + 1):
        work = Path(tempfile.mkdtemp(prefix=f".{dest.name[:80]}{CLONE_MARK}{os.getpid()}-", dir=dest.parent))
        try:
            os.chmod(work, 0o777 & ~umask())  # what git would give a folder it made (mkdtemp's is 0700)
            run_remote([*args, "--", url, str(work)], url)
            _into_place(work, dest)
            return
        except GitError as exc:
            if attempt >= retries or exc.timed_out or not is_transient(exc.stderr):
                raise
            time.sleep(backoff * (2 ** attempt))  # a Ctrl-C meanwhile stops the next attempt
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _into_place(work: Path, dest: Path) -> None:
    try:
        os.rename(work, dest)
    except OSError as exc:
        if clone_state(dest) is CloneState.CLONED:
            return  # another meta cloned it meanwhile; the caller checks its origin
        raise GitError(f"cannot move the new clone into {dest}: {exc.strerror or exc}") from None


def remove_abandoned_clones(folder: Path) -> None:
    """Remove the hidden clone folders in ``folder`` whose meta process has died (killed mid-clone)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not name.startswith(".") or CLONE_MARK not in name or not entry.is_dir(follow_symlinks=False):
            continue
        pid = name.rsplit(CLONE_MARK, 1)[1].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


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


def branch_status(path: Path, *, env: dict[str, str] | None = None, untracked: bool = False) -> BranchStatus:
    """``untracked``: count untracked files even where ``status.showUntrackedFiles`` is ``no``."""
    proc = run_git(["status", "--porcelain=v2", "--branch", *(["--untracked-files=normal"] if untracked else [])],
                   cwd=path, env=env)
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


def commit_one_file(root: Path, file: Path, message: str) -> str | None:
    """Commit ``file`` alone in the meta repo (other staged work stays staged); None when nothing changed."""
    if not is_work_tree(root):
        return None
    relative = str(file.relative_to(root))
    run_git(["add", "--", relative], cwd=root)
    if run_git(["diff", "--cached", "--quiet", "--", relative], cwd=root, check=False).returncode == 0:
        return None
    run_git(["commit", "--quiet", "--only", "-m", message, "--", relative], cwd=root)
    return run_git(["rev-parse", "HEAD"], cwd=root).stdout.strip()
