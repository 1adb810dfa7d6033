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
from enum import Enum
from typing import IO, Any, Callable, Hashable, Iterable, Iterator, Mapping, Sequence

from metarepo.report import NULL, Reporter



class State(str, Enum):
    """How an item ended. A ``str``, so it compares with and prints as its value (JSON too)."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


DONE, FAILED, SKIPPED, INTERRUPTED = State.DONE, State.FAILED, State.SKIPPED, State.INTERRUPTED
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
    state: State
    value: Any = None
    error: BaseException | None = None
    reason: str = ""
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if type(self.state) is not State:  # "done" from older callers: the member it names
            object.__setattr__(self, "state", State(self.state))

    @property
    def ok(self) -> bool:
        return self.state is State.DONE


@dataclass(frozen=True)
class Run:
    outcomes: tuple[Outcome, ...]
    interrupted: bool
    seconds: float

    def by_state(self, state: State) -> list[Outcome]:
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
#
# As docker-compose v1's parallel.py: a small state object (`_Schedule`) that
# knows what is ready, running and ended, and short functions around it: one
# attempt at an item, one worker's loop, the delivery of outcomes to the
# caller's callbacks, and what Ctrl-C does. Every item is looked at only when
# it is ready or one of its dependencies ends (O(items + deps)).


class _Schedule:
    """What a run knows; every field is guarded by ``cond``."""

    def __init__(self, items: Sequence[Hashable], deps: Mapping[Hashable, Iterable[Hashable]] | None,
                 stop_on_failure: bool) -> None:
        self.order = list(items)
        self.index = {item: n for n, item in enumerate(self.order)}
        # Each item's distinct dependencies among the items, and who waits on whom.
        needs = {item: list(dict.fromkeys(d for d in (deps or {}).get(item, ()) if d in self.index))
                 for item in self.order}
        self.waiting = {item: len(needs[item]) for item in self.order}
        self.dependents: dict[Hashable, list[Hashable]] = {}
        for item in self.order:
            for dep in needs[item]:
                self.dependents.setdefault(dep, []).append(item)
        self.ready = [self.index[item] for item in self.order if not self.waiting[item]]  # a heap: input order
        heapq.heapify(self.ready)
        self.results: dict[Hashable, Outcome] = {}
        self.running: set[Hashable] = set()
        self.pending: deque[tuple[Outcome, list[Outcome]]] = deque()  # ended, not yet delivered
        self.stop_on_failure = stop_on_failure
        self.stopping = False
        self.interrupted = False
        self.raised: list[BaseException] = []
        self.cond = threading.Condition()

    @property
    def halted(self) -> bool:
        """Ctrl-C, or a callback or reporter raised: nothing new starts, nobody is told any more."""
        return self.interrupted or bool(self.raised)

    def take(self) -> Hashable | None:
        """The next ready item, waiting while others run; None when there is nothing left to start."""
        while not self.halted:
            while self.ready:
                item = self.order[heapq.heappop(self.ready)]
                if item not in self.results:
                    self.running.add(item)
                    return item
            if not self.running:
                return None
            self.cond.wait()
        return None

    def settle(self, outcome: Outcome) -> list[Outcome]:
        """Record ``outcome``; release what waits on it, or skip that (and what waits on it) if it failed."""
        self.running.discard(outcome.key)
        self.results[outcome.key] = outcome
        skipped = self._release(outcome.key) if outcome.ok else self._skip_dependents(outcome.key)
        if outcome.state is State.FAILED and self.stop_on_failure and not self.stopping:
            self._stop()
        self.cond.notify_all()  # new work, or the end of it, for the workers that wait
        return skipped

    def _release(self, key: Hashable) -> list[Outcome]:
        for item in self.dependents.get(key, ()):
            if item not in self.results:
                self.waiting[item] -= 1
                if not self.waiting[item]:
                    heapq.heappush(self.ready, self.index[item])
        return []

    def _skip_dependents(self, key: Hashable) -> list[Outcome]:
        skipped, stack = [], [key]
        while stack:
            failed = stack.pop()
            for item in self.dependents.get(failed, ()):
                if item not in self.results and item not in self.running:
                    self.results[item] = Outcome(item, State.SKIPPED, reason=f"{failed} did not succeed")
                    skipped.append(self.results[item])
                    stack.append(item)
        return skipped

    def _stop(self) -> None:
        self.stopping = True
        self.ready.clear()
        self.end_unstarted(State.SKIPPED, "not started: an earlier item failed")

    def end_unstarted(self, state: State, reason: str) -> None:
        for item in self.order:
            if item not in self.results and item not in self.running:
                self.results[item] = Outcome(item, state, reason=reason)

    def fail(self, exc: BaseException) -> None:
        with self.cond:
            self.raised.append(exc)
            self.cond.notify_all()

    def outcomes(self) -> tuple[Outcome, ...]:
        return tuple(self.results[item] for item in self.order)


def _attempt(work: Callable[[Hashable], Any], item: Hashable) -> Outcome:
    """One item's work, whatever happens, as an outcome."""
    t0 = time.monotonic()
    try:
        value = work(item)
        return Outcome(item, State.DONE, value=value, seconds=time.monotonic() - t0)
    except Skip as exc:
        return Outcome(item, State.SKIPPED, reason=exc.reason, seconds=time.monotonic() - t0)
    except Failed as exc:
        return Outcome(item, State.FAILED, value=exc.value, error=exc, reason=exc.reason,
                       seconds=time.monotonic() - t0)
    except BaseException as exc:  # noqa: BLE001 - every failure is an outcome
        return Outcome(item, State.FAILED, error=exc, reason=str(exc), seconds=time.monotonic() - t0)


class _Delivery:
    """Hands ended outcomes to the reporter and ``on_outcome``, one at a time, in the order they ended.

    Whoever is free delivers everyone's (no hand-off per item to the calling
    thread, which over hundreds of short commands cost more than the work), so
    a worker whose item ended while another prints a long output goes on with
    its next item.
    """

    def __init__(self, schedule: _Schedule, reporter: Reporter,
                 on_outcome: Callable[[Outcome], None] | None) -> None:
        self.schedule = schedule
        self.reporter = reporter
        self.on_outcome = on_outcome
        self.lock = threading.Lock()

    def deliver(self) -> None:
        schedule = self.schedule
        while self.lock.acquire(blocking=False):
            try:
                while True:
                    with schedule.cond:
                        if not schedule.pending or schedule.halted:
                            break
                        outcome, skipped = schedule.pending.popleft()
                    self._tell(outcome, skipped)
            except BaseException as exc:  # noqa: BLE001 - raised again in the calling thread
                schedule.fail(exc)
            finally:
                self.lock.release()
            with schedule.cond:  # one more look: an outcome may have come in after the last one above
                if not schedule.pending or schedule.halted:
                    return

    def _tell(self, outcome: Outcome, skipped: list[Outcome]) -> None:
        self.reporter.item_done(str(outcome.key), outcome.ok, outcome.reason)
        for other in skipped:
            self.reporter.item_done(str(other.key), False, other.reason)
        if self.on_outcome is not None:
            self.on_outcome(outcome)


def _work_loop(schedule: _Schedule, work: Callable[[Hashable], Any], reporter: Reporter,
               delivery: _Delivery) -> None:
    """One worker: take a ready item, do it, record it, deliver what has ended; until nothing is left."""
    try:
        with schedule.cond:
            item = schedule.take()
        while item is not None:
            reporter.item_started(str(item))
            outcome = _attempt(work, item)
            with schedule.cond:
                if schedule.interrupted:  # ended by Ctrl-C: recorded as such, and nobody is told any more
                    schedule.settle(_as_interrupted(outcome))
                    return
                schedule.pending.append((outcome, schedule.settle(outcome)))
            delivery.deliver()
            with schedule.cond:
                item = schedule.take()
    except BaseException as exc:  # noqa: BLE001 - a broken reporter: the other workers must not wait on us
        schedule.fail(exc)


def _as_interrupted(outcome: Outcome) -> Outcome:
    if outcome.ok:
        return outcome
    return Outcome(outcome.key, State.INTERRUPTED, value=outcome.value, reason="interrupted",
                   seconds=outcome.seconds)


def _interrupt(schedule: _Schedule, threads: Sequence[threading.Thread]) -> None:
    """Ctrl-C: end every child's group, let the workers record how their items ended, mark the rest."""
    with schedule.cond:
        schedule.interrupted = True
        schedule.cond.notify_all()
    end_all_children()
    deadline = time.monotonic() + 2 * _GRACE_SECONDS + 1  # the workers end quickly now
    for t in threads:
        while t.is_alive() and time.monotonic() < deadline:
            try:
                t.join(timeout=max(0.0, deadline - time.monotonic()))
            except KeyboardInterrupt:
                end_all_children()
    with schedule.cond:
        schedule.end_unstarted(State.INTERRUPTED, "interrupted")
        for item in schedule.running:  # still running past the deadline
            schedule.results.setdefault(item, Outcome(item, State.INTERRUPTED, reason="interrupted"))


_depth = 0  # how many runs are under way in this process (a work function may start its own)
_depth_lock = threading.Lock()


def _enter_run() -> None:
    global _depth
    with _depth_lock:
        _depth += 1


def _leave_run() -> None:
    """The last run to end lifts the Ctrl-C ban, so the same process can run again."""
    global _depth
    with _depth_lock:
        _depth -= 1
        if not _depth:
            _cancelled.clear()


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
    ``interrupted`` set; what had not finished ends as interrupted; once the
    run is over, new children may start again. ``on_outcome`` and the
    reporter's ``item_done`` are called one at a time, in the order items
    end, from a worker thread. An exception from a callback stops the run
    (what is running finishes) and is raised here.
    """
    started_at = time.monotonic()
    schedule = _Schedule(items, deps, stop_on_failure)
    delivery = _Delivery(schedule, reporter, on_outcome)
    threads = [threading.Thread(target=_work_loop, args=(schedule, work, reporter, delivery), daemon=True,
                                name=f"meta-{i}") for i in range(min(max(1, int(jobs)), len(schedule.order)) or 1)]
    _enter_run()
    reporter.start(len(schedule.order), "")
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if schedule.raised:
            raise schedule.raised[0]
        with schedule.cond:  # what never became ready waits on a cycle
            schedule.end_unstarted(State.SKIPPED, "dependency cycle")
    except KeyboardInterrupt:
        _interrupt(schedule, threads)
    finally:
        _leave_run()
        reporter.finish()
    with schedule.cond:
        return Run(schedule.outcomes(), schedule.interrupted, time.monotonic() - started_at)


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
                 timeout: float, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a short command in its own process group, capturing text output.

    Standard input is empty, or ``input`` when given (written whole by a
    helper thread, then closed, so the child cannot wait on a prompt).
    Registered with the live set, so Ctrl-C ends it with everything else (and
    so does a Ctrl-C that lands while this thread waits for it); on timeout
    the whole group is ended and ``TimeoutExpired`` raised. Both output pipes
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
            events = poller.poll(max(0.0, remaining) * 1000) if remaining > 0 else []
            if not events:
                end_process_group(proc)
                raise subprocess.TimeoutExpired(list(argv), timeout)
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
