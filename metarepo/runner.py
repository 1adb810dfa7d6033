"""Parallel execution: a bounded graph executor and a child-process runner.

``run_parallel`` runs one callable per item on at most ``jobs`` threads, in
dependency order when dependencies are given (docker-compose v1's
``parallel.py`` is the model): an item whose dependency failed is not run and
ends as skipped; every item ends as done, failed, skipped or interrupted, and
the caller gets them all, in input order.

``run_command`` runs one child process in its own process group, with its
output spilled to an unnamed temporary file (memory stays flat however much a
child prints), a timeout that ends the whole group, and no standard input, so
nothing can stop to prompt. Ctrl-C in the main thread ends every live group.
"""

from __future__ import annotations

import heapq
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import IO, Any, Callable, Hashable, Iterable, Iterator, Mapping, Sequence

from metarepo.report import NULL, Reporter

DONE, FAILED, SKIPPED, INTERRUPTED = "done", "failed", "skipped", "interrupted"
_KEEP_IN_MEMORY = 256 * 1024  # larger outputs stay in their temporary file
_GRACE_SECONDS = 2.0


class Skip(Exception):
    """Raised by a work function: this item is deliberately not done (with why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Failed(Exception):
    """Raised by a work function: this item failed, and here is what it produced."""

    def __init__(self, reason: str, value: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.value = value


@dataclass(frozen=True)
class Outcome:
    key: Hashable
    state: str
    value: Any = None
    error: BaseException | None = None
    reason: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state == DONE


@dataclass(frozen=True)
class Run:
    outcomes: tuple[Outcome, ...]
    interrupted: bool
    seconds: float

    def by_state(self, state: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.state == state]

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(o.ok for o in self.outcomes)


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


def end_process_group(proc: subprocess.Popen[bytes], grace: float = _GRACE_SECONDS) -> None:
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


# -- the graph executor ------------------------------------------------------


def run_parallel(
    items: Sequence[Hashable],
    work: Callable[[Hashable], Any],
    *,
    jobs: int,
    deps: Mapping[Hashable, Iterable[Hashable]] | None = None,
    reporter: Reporter = NULL,
    stop_on_failure: bool = False,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Run:
    """Run ``work(item)`` for every item, at most ``jobs`` at once.

    ``deps`` maps an item to the items that must be done before it. With
    ``stop_on_failure`` the first failure stops new work; items not started
    end as skipped. Ctrl-C ends every child process group and returns with
    ``interrupted`` set; what had not finished ends as interrupted.
    ``on_outcome`` and the reporter's ``item_done`` are called one at a time,
    in the order items end, from a worker thread: no hand-off per item to
    the calling thread, which over hundreds of short commands cost more than
    the work itself. An exception from a callback stops the run (what is
    running finishes) and is raised here.
    """
    started_at = time.monotonic()
    jobs = max(1, int(jobs))
    order = list(items)
    index = {item: n for n, item in enumerate(order)}
    # Each item's distinct dependencies among the items, and who waits on whom: every
    # item is looked at only when it is ready or one of its dependencies ends (O(items + deps)).
    needs = {item: list(dict.fromkeys(d for d in (deps or {}).get(item, ()) if d in index)) for item in order}
    waiting = {item: len(needs[item]) for item in order}
    dependents: dict[Hashable, list[Hashable]] = {}
    for item in order:
        for dep in needs[item]:
            dependents.setdefault(dep, []).append(item)
    ready = [index[item] for item in order if not waiting[item]]  # a heap: start in input order
    heapq.heapify(ready)
    results: dict[Hashable, Outcome] = {}
    running: set[Hashable] = set()
    schedule = threading.Condition()  # guards ready, waiting, results, running and the flags below
    callbacks = threading.Lock()  # the reporter and on_outcome see one item at a time
    pending: deque[tuple[Outcome, list[Outcome]]] = deque()  # ended, not yet reported
    stopping = interrupted = False
    raised: list[BaseException] = []

    def settle(outcome: Outcome) -> list[Outcome]:
        """Record ``outcome``; release what waits on it, or skip that (and what waits on it) if it failed."""
        nonlocal stopping
        running.discard(outcome.key)
        results[outcome.key] = outcome
        skipped = []
        if outcome.ok:
            for item in dependents.get(outcome.key, ()):
                if item not in results:
                    waiting[item] -= 1
                    if not waiting[item]:
                        heapq.heappush(ready, index[item])
        else:
            stack = [outcome.key]
            while stack:
                failed = stack.pop()
                for item in dependents.get(failed, ()):
                    if item not in results and item not in running:
                        results[item] = Outcome(item, SKIPPED, reason=f"{failed} did not succeed")
                        skipped.append(results[item])
                        stack.append(item)
            if stop_on_failure and outcome.state == FAILED and not stopping:
                stopping = True
                ready.clear()
                for item in order:
                    if item not in results and item not in running:
                        results[item] = Outcome(item, SKIPPED, reason="not started: an earlier item failed")
        schedule.notify_all()  # new work, or the end of it, for the workers that wait
        return skipped

    def take() -> Hashable | None:
        """The next ready item, waiting while others run; None when there is nothing left to start."""
        while not (interrupted or raised):
            while ready:
                item = order[heapq.heappop(ready)]
                if item not in results:
                    running.add(item)
                    return item
            if not running:
                return None
            schedule.wait()
        return None

    def attempt(item: Hashable) -> Outcome:
        t0 = time.monotonic()
        try:
            value = work(item)
            return Outcome(item, DONE, value=value, seconds=time.monotonic() - t0)
        except Skip as exc:
            return Outcome(item, SKIPPED, reason=exc.reason, seconds=time.monotonic() - t0)
        except Failed as exc:
            return Outcome(item, FAILED, value=exc.value, error=exc, reason=exc.reason,
                           seconds=time.monotonic() - t0)
        except BaseException as exc:  # noqa: BLE001 - every failure is an outcome
            return Outcome(item, FAILED, error=exc, reason=str(exc), seconds=time.monotonic() - t0)

    def report() -> None:
        """Deliver the pending outcomes to the reporter and ``on_outcome``, unless a worker already is.

        Whoever holds ``callbacks`` delivers everyone's (in the order they ended), so a worker
        whose item ended while another is printing a long output goes on to its next item.
        """
        while callbacks.acquire(blocking=False):
            try:
                while True:
                    with schedule:
                        if not pending or interrupted or raised:
                            break
                        outcome, skipped = pending.popleft()
                    reporter.item_done(str(outcome.key), outcome.ok, outcome.reason)
                    for other in skipped:
                        reporter.item_done(str(other.key), False, other.reason)
                    if on_outcome is not None:
                        on_outcome(outcome)
            except BaseException as exc:  # noqa: BLE001 - raised again in the calling thread
                with schedule:
                    raised.append(exc)
                    schedule.notify_all()
            finally:
                callbacks.release()
            with schedule:  # one more look: an outcome may have come in after the last one above
                if not pending or interrupted or raised:
                    return

    def worker() -> None:
        try:
            with schedule:
                item = take()
            while item is not None:
                reporter.item_started(str(item))
                outcome = attempt(item)
                with schedule:
                    if interrupted:  # ended by Ctrl-C: recorded as such, and nobody is told any more
                        settle(Outcome(item, INTERRUPTED if outcome.state != DONE else DONE, value=outcome.value,
                                       reason="interrupted", seconds=outcome.seconds))
                        return
                    pending.append((outcome, settle(outcome)))
                report()
                with schedule:
                    item = take()
        except BaseException as exc:  # noqa: BLE001 - a broken reporter: the other workers must not wait on us
            with schedule:
                raised.append(exc)
                schedule.notify_all()

    threads = [threading.Thread(target=worker, daemon=True, name=f"meta-{i}")
               for i in range(min(jobs, len(order)) or 1)]
    reporter.start(len(order), "")
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if raised:
            raise raised[0]
        with schedule:
            for item in order:  # what never became ready waits on a cycle
                if item not in results:
                    results[item] = Outcome(item, SKIPPED, reason="dependency cycle")
    except KeyboardInterrupt:
        with schedule:
            interrupted = True
            schedule.notify_all()
        end_all_children()
        # Let the workers record how their items ended (they end quickly now).
        deadline = time.monotonic() + 2 * _GRACE_SECONDS + 1
        for t in threads:
            while t.is_alive() and time.monotonic() < deadline:
                try:
                    t.join(timeout=max(0.0, deadline - time.monotonic()))
                except KeyboardInterrupt:
                    end_all_children()
        with schedule:
            for item in order:
                results.setdefault(item, Outcome(item, INTERRUPTED, reason="interrupted"))
    finally:
        reporter.finish()
    with schedule:
        return Run(tuple(results[item] for item in order), interrupted, time.monotonic() - started_at)


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
    on_line: Callable[[bytes], None] | None = None,
) -> CommandResult:
    """Run ``argv`` in ``cwd`` in a new process group and wait for it.

    Output goes to an unnamed temporary file; with ``on_line`` it is read from
    a pipe instead and each line handed over as it comes (for ``--stream``).
    On timeout the whole group is ended and ``timed_out`` is set.
    """
    _check_cancelled()
    t0 = time.monotonic()
    spill = None if on_line else tempfile.TemporaryFile(prefix="meta-out-")
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
        if on_line is None:
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
            for line in iter(lambda: proc.stdout.readline(1 << 16), b""):
                on_line(line)
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


def default_jobs() -> int:
    """``META_JOBS`` if set, else the number of usable cores."""
    value = os.environ.get("META_JOBS")
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


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
