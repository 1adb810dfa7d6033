"""Child processes: each in its own process group, never prompting, ended whole.

``run_command`` runs one child with its output spilled to an unnamed
temporary file (memory stays flat however much a child prints), a timeout
that ends the whole group, and no standard input, so nothing can stop to
prompt. ``run_captured`` runs a short command and hands back its text.
Every live child is registered, so Ctrl-C (``end_all_children``) ends them
all, and no new one starts until ``allow_children`` says the run is over.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Callable, Iterator, Mapping, Sequence

_KEEP_IN_MEMORY = 256 * 1024  # larger outputs stay in their temporary file
GRACE_SECONDS = 2.0


# -- the live process groups, so that Ctrl-C and timeouts can end them -----------

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()
_cancelled = threading.Event()  # set by Ctrl-C: no new child may start


def _check_cancelled(proc: subprocess.Popen | None = None) -> None:
    """Refuse to go on after Ctrl-C; a child that started meanwhile is ended first."""
    if _cancelled.is_set():
        if proc is not None:
            end_process_group(proc)
            with _live_lock:
                _live.discard(proc)
        from metarepo.errors import Interrupted

        raise Interrupted("interrupted")


def _register(proc: subprocess.Popen) -> None:
    with _live_lock:
        _live.add(proc)
    _check_cancelled(proc)  # closes the race with a Ctrl-C between check and spawn


def end_process_group(proc: subprocess.Popen[bytes], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the child's whole group, then SIGKILL what is left after ``grace``."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=wait)
            # The leader is gone; make sure none of its group outlives it.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return
        except subprocess.TimeoutExpired:
            continue


def end_all_children() -> None:
    _cancelled.set()
    with _live_lock:
        procs = list(_live)
    threads = [threading.Thread(target=end_process_group, args=(p,)) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def allow_children() -> None:
    """Lift the ban ``end_all_children`` put on new children (the interrupted run is over)."""
    _cancelled.clear()


# -- one child process -------------------------------------------------------


class Output:
    """A child's combined stdout and stderr: bytes in memory, or a spilled file."""

    def __init__(self, data: bytes = b"", spill: IO[bytes] | None = None, size: int | None = None) -> None:
        self._data = data
        self._spill = spill
        self.size = len(data) if size is None else size

    def chunks(self, size: int = 1 << 16) -> Iterator[bytes]:
        if self._spill is None:
            if self._data:
                yield self._data
            return
        self._spill.seek(0)
        while True:
            block = self._spill.read(size)
            if not block:
                return
            yield block

    def read(self, limit: int | None = None) -> bytes:
        """The output (or its last ``limit`` bytes)."""
        if self._spill is None:
            return self._data if limit is None else self._data[-limit:]
        if limit is not None and self.size > limit:
            self._spill.seek(self.size - limit)
            return self._spill.read()
        return b"".join(self.chunks())

    def text(self, limit: int | None = None) -> str:
        return self.read(limit).decode("utf-8", errors="replace")

    def close(self) -> None:
        """Free the output (memory or file); ``size`` is kept."""
        self._data = b""
        if self._spill is not None:
            self._spill.close()
            self._spill = None


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int | None
    seconds: float
    output: Output
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for every child: never prompt, never page."""
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=30")
    env["GIT_PAGER"] = "cat"
    env["PAGER"] = "cat"
    env.pop("GIT_ASKPASS", None)
    env.pop("SSH_ASKPASS", None)
    if extra:
        env.update(extra)
    return env


def wait_exit(proc: subprocess.Popen, timeout: float | None) -> bool:
    """Wait for ``proc`` to end, at most ``timeout`` seconds; False if it is still running.

    ``Popen.wait(timeout=...)`` polls with growing sleeps, which adds up to a
    millisecond or so to every short command; a pidfd (Linux) wakes us the
    moment the child ends.
    """
    if timeout is None:
        proc.wait()
        return True
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux, or the child is already reaped
        try:
            proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        # Opened first, then checked: if another thread reaped the child before the open (and
        # its pid was reused), poll() says so from the recorded exit status.
        if proc.poll() is not None:
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        ended = bool(poller.poll(max(0.0, timeout) * 1000))
    finally:
        os.close(fd)
    if ended:
        proc.wait()
    return ended


_programs: dict[tuple[str, str], str] = {}


def program(name: str, env: Mapping[str, str] | None) -> str | None:
    """Where ``name`` is on the child's PATH, looked up once per run rather than once per child.

    The child's own PATH search costs a failed ``execve`` per entry before the
    right one, in every child; this finds it once. Only for PATH entries that
    are all absolute (a relative one depends on each child's folder); None
    leaves the search to the child, as before.
    """
    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    key = (name, path)
    found = _programs.get(key)
    if found is None and "/" not in name and all(entry.startswith("/") for entry in path.split(os.pathsep)):
        found = shutil.which(name, path=path)
        if found:
            _programs[key] = found
    return found


def run_command(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    on_lines: Callable[[bytes, bool], None] | None = None,
) -> CommandResult:
    """Run ``argv`` in ``cwd`` in a new process group and wait for it.

    Output goes to an unnamed temporary file; with ``on_lines`` it is read from
    a pipe instead and handed over as it comes (for ``--stream``), in runs of
    whole lines, with whether the pipe is idle for now (see ``_pump``). On
    timeout the whole group is ended and ``timed_out`` is set.
    """
    _check_cancelled()
    t0 = time.monotonic()
    spill = None if on_lines else tempfile.TemporaryFile(prefix="meta-out-")
    try:
        env = env if env is not None else child_env()
        proc = subprocess.Popen(
            list(argv), executable=program(argv[0], env), cwd=cwd, env=env,
            stdin=subprocess.DEVNULL, stdout=spill if spill else subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except BaseException:  # could not start (no such program, say): nothing to keep
        if spill is not None:
            spill.close()
        raise
    _register(proc)
    timed_out = False
    try:
        if on_lines is None:
            if not wait_exit(proc, timeout):
                timed_out = True
                end_process_group(proc)
        else:
            timer = None
            if timeout:
                def expire() -> None:
                    nonlocal timed_out
                    timed_out = True
                    end_process_group(proc)

                timer = threading.Timer(timeout, expire)
                timer.daemon = True
                timer.start()
            assert proc.stdout is not None
            _pump(proc.stdout.fileno(), on_lines)
            proc.wait()
            if timer:
                timer.cancel()
    finally:
        with _live_lock:
            _live.discard(proc)
        if proc.stdout is not None:
            proc.stdout.close()
    output = Output()
    if spill is not None:
        size = spill.seek(0, os.SEEK_END)
        if size <= _KEEP_IN_MEMORY:
            spill.seek(0)
            output = Output(spill.read())
            spill.close()
        else:
            output = Output(spill=spill, size=size)
    return CommandResult(tuple(argv), None if timed_out else proc.returncode,
                         time.monotonic() - t0, output, timed_out)


_READ = 1 << 16  # a pipe's capacity on Linux: one read takes what is there
_LONGEST_LINE = 1 << 16  # a longer line is handed over in pieces, each ended by a newline


def _pump(fd: int, on_lines: Callable[[bytes, bool], None]) -> None:
    """Read ``fd`` to its end, handing over runs of whole lines (a last unfinished one gets a newline).

    A read shorter than asked for emptied the pipe: the child has nothing
    more for now, so ``idle`` is true and the reader may flush what it holds.
    A partial line waits for its end, so two children's halves never mix.
    """
    tail = b""
    while True:
        data = os.read(fd, _READ)
        if not data:
            break
        idle = len(data) < _READ
        if tail:
            data = tail + data
        cut = data.rfind(b"\n") + 1
        if cut == len(data):
            tail = b""
        elif len(data) - cut >= _LONGEST_LINE:
            tail, data, cut = b"", data + b"\n", len(data) + 1
        else:
            tail = data[cut:]
        if cut:
            on_lines(data[:cut] if cut < len(data) else data, idle)
    if tail:
        on_lines(tail + b"\n", True)


def run_captured(argv: Sequence[str], *, cwd: str | os.PathLike[str] | None, env: Mapping[str, str],
                 timeout: float, input: str | None = None,
                 idle: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run a short command in its own process group, capturing text output.

    Standard input is empty, or ``input`` when given (written whole by a
    helper thread, then closed, so the child cannot wait on a prompt).
    Registered with the live set, so Ctrl-C ends it with everything else (and
    so does a Ctrl-C that lands while this thread waits for it); on timeout
    the whole group is ended and ``TimeoutExpired`` raised; so it is (with
    ``timeout`` set to ``idle``) when the child says nothing for ``idle``
    seconds. Both output pipes
    are drained with one poll loop on the raw descriptors, and the exit is
    awaited with ``wait_exit``: no text wrappers, no sleep-polling.
    """
    _check_cancelled()
    deadline = time.monotonic() + timeout
    proc = subprocess.Popen(list(argv), executable=program(argv[0], env), cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    _register(proc)
    try:
        if input is not None:
            threading.Thread(target=_feed, args=(proc.stdin, input.encode("utf-8")), daemon=True).start()
        assert proc.stdout is not None and proc.stderr is not None
        out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
        poller = select.poll()
        for fd in chunks:
            poller.register(fd, select.POLLIN)
        open_fds = len(chunks)
        while open_fds:
            remaining = deadline - time.monotonic()
            wait = remaining if idle is None else min(remaining, idle)
            events = poller.poll(max(0.0, wait) * 1000) if wait > 0 else []
            if not events:
                end_process_group(proc)
                raise subprocess.TimeoutExpired(list(argv), timeout if wait == remaining else idle)
            for fd, _ in events:
                data = os.read(fd, 1 << 16)
                if data:
                    chunks[fd].append(data)
                else:
                    poller.unregister(fd)
                    open_fds -= 1
        if not wait_exit(proc, max(0.0, deadline - time.monotonic())):
            end_process_group(proc)
            raise subprocess.TimeoutExpired(list(argv), timeout)
    except BaseException:  # Ctrl-C (or a timeout): the child is in its own session, so end it here
        end_process_group(proc)
        raise
    finally:
        with _live_lock:
            _live.discard(proc)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    return subprocess.CompletedProcess(list(argv), proc.returncode, _text(b"".join(chunks[out_fd])),
                                       _text(b"".join(chunks[err_fd])))


def _feed(pipe: IO[bytes], data: bytes) -> None:
    """Write ``data`` to a child's stdin and close it (a child that stops reading just ends the write)."""
    try:
        pipe.write(data)
    except (BrokenPipeError, OSError):
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def _text(data: bytes) -> str:
    """What a text-mode pipe gives: UTF-8 (bad bytes replaced), universal newlines."""
    text = data.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
