"""Parallel execution: a bounded graph executor.

``run_parallel`` runs one callable per item on at most ``jobs`` threads, in
dependency order when dependencies are given (docker-compose v1's
``parallel.py`` is the model): an item whose dependency failed is not run and
ends as skipped; every item ends as done, failed, skipped or interrupted, and
the caller gets them all, in input order. Ctrl-C in the main thread ends
every live child process group (``metarepo.process``, whose names are also
importable from here).
"""

from __future__ import annotations

import heapq
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence

from metarepo.process import (GRACE_SECONDS, CommandResult, Output, allow_children, child_env, end_all_children,
                              end_process_group, program, run_captured, run_command, wait_exit)
from metarepo.report import NULL, Reporter

__all__ = [
    "State", "DONE", "FAILED", "SKIPPED", "INTERRUPTED", "Skip", "Failed", "Outcome", "Run", "run_parallel",
    "default_jobs",
    # the child-process runner, importable from here as before
    "CommandResult", "Output", "child_env", "end_all_children", "end_process_group", "program", "run_captured",
    "run_command", "wait_exit",
]


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
    deadline = time.monotonic() + 2 * GRACE_SECONDS + 1  # the workers end quickly now
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
            allow_children()


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
