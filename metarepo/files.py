"""Shared files of a meta repo, written safely: atomic replacement and the edit lock.

Every write replaces a file in one rename (a temp file in the same folder
first), so a reader never sees half a file and a failed write leaves the old
one intact. Every read-modify-write of a shared file (``.meta``,
``.gitignore``, ``.meta.lock``, ``environments/ENV.json``, state under
``.metarepo/``) holds ``lock_file`` from before the read until after the
rename, so two ``meta`` processes never lose each other's change.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence

from metarepo.errors import WorkFailed

LOCK_WAIT = 60.0  # seconds one meta waits for another to finish its edit

_held = threading.local()  # the lock files this thread holds (a nested take is a no-op)


@contextlib.contextmanager
def lock_file(path: Path, *, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block.

    It excludes other processes and other threads of this one; taken again
    by the thread that holds it, it is a no-op, so a capability may take it
    around a call that takes it too. Waits up to ``wait`` seconds, then
    raises ``WorkFailed``; an ``OSError`` (a read-only folder, say) is the
    caller's to handle.
    """
    path = Path(path)
    key = os.path.abspath(path)
    held: set[str] = _held.__dict__.setdefault("paths", set())
    if key in held:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666)
    try:
        deadline = time.monotonic() + wait
        pause = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WorkFailed(f"another meta command is editing this meta repo (waited {wait:g}s for {path})",
                                     hint="try again when it has finished") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@functools.lru_cache(maxsize=1)
def umask() -> int:
    """The process's umask, read without changing it (``os.umask`` can only be read by setting it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)  # no /proc: set it and put it back at once (cached, so asked once per process)
    os.umask(old)
    return old


def _stage(file: Path, text: str, durable: bool) -> str:
    """``text`` in a temp file beside ``file``, with the mode ``file`` has (or would get); its path."""
    # An existing file keeps its mode; a new one gets what open() would give it (mkstemp's is 0600).
    mode = file.stat().st_mode & 0o777 if file.exists() else 0o666 & ~umask()
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def replace_files(changes: Sequence[tuple[Path, str]], *, durable: bool = True) -> None:
    """Replace each file with its text: all are written out first, then renamed into place.

    A failure while writing (a full disk) leaves every old file intact; the
    renames that follow need no space. ``durable`` flushes the new text to
    disk before the rename (what a manifest needs); local state that can be
    rebuilt (caches, the last run) skips that.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for file, text in changes:
            staged.append((_stage(Path(file), text, durable), Path(file)))
        while staged:
            tmp, file = staged[0]
            os.replace(tmp, file)
            staged.pop(0)
    finally:
        for tmp, _ in staged:
            _unlink(tmp)


def write_atomic(file: Path, text: str, *, durable: bool = True) -> None:
    """Replace ``file`` with ``text`` in one rename; the old file is intact on any failure."""
    replace_files([(Path(file), text)], durable=durable)
