"""The graph executor: dependency order, skipped-upstream, bounded parallelism, every item accounted for."""

from __future__ import annotations

import threading
import time

import pytest

from metarepo.process import run_command
from metarepo.runner import DONE, FAILED, SKIPPED, Failed, Skip, run_parallel


def test_dependencies_run_first_and_failures_skip_dependents():
    order: list[str] = []

    def work(item):
        order.append(item)
        if item == "base":
            raise RuntimeError("boom")
        if item == "lonely":
            raise Skip("nothing to do")
        return item.upper()

    run = run_parallel(["app", "base", "lib", "other", "lonely"], work, jobs=2,
                       deps={"app": ["lib"], "lib": ["base"]})
    states = {o.key: o.state for o in run.outcomes}
    assert states == {"app": SKIPPED, "base": FAILED, "lib": SKIPPED, "other": DONE, "lonely": SKIPPED}
    assert [o.key for o in run.outcomes] == ["app", "base", "lib", "other", "lonely"]  # input order
    assert "app" not in order and "lib" not in order
    reasons = {o.key: o.reason for o in run.outcomes}
    assert reasons["lib"] == "base did not succeed" and reasons["app"] == "lib did not succeed"
    assert not run.ok


def test_parallelism_is_bounded():
    live = 0
    peak = 0
    lock = threading.Lock()

    def work(item):
        nonlocal live, peak
        with lock:
            live += 1
            peak = max(peak, live)
        time.sleep(0.02)
        with lock:
            live -= 1

    run = run_parallel(list(range(20)), work, jobs=3)
    assert run.ok and peak == 3


def test_cycles_and_stop_on_failure():
    run = run_parallel(["a", "b"], lambda i: i, jobs=2, deps={"a": ["b"], "b": ["a"]})
    assert {o.reason for o in run.outcomes} == {"dependency cycle"}

    def work(item):
        if item == 0:
            raise Failed("first fails", value="partial")
        time.sleep(0.01)

    run = run_parallel(list(range(6)), work, jobs=1, stop_on_failure=True)
    assert run.outcomes[0].state == FAILED and run.outcomes[0].value == "partial"
    assert all(o.state == SKIPPED for o in run.outcomes[1:])


def test_callbacks_come_one_at_a_time_and_a_slow_one_does_not_hold_the_others_back():
    """on_outcome runs in the workers: never two at once, every outcome once, and while one
    callback is slow (a long output being printed) the other workers go on with their items."""
    seen: list[str] = []
    inside = 0
    overlap = False
    started_while_slow: list[str] = []
    slow = threading.Event()
    items = [f"p{n}" for n in range(30)]

    def work(item):
        if slow.is_set():
            started_while_slow.append(item)
        time.sleep(0.002)
        return item

    def on_outcome(outcome):
        nonlocal inside, overlap
        inside += 1
        overlap = overlap or inside > 1
        seen.append(outcome.key)
        if outcome.key == "p0":
            slow.set()
            time.sleep(0.2)
            slow.clear()
        inside -= 1

    run = run_parallel(items, work, jobs=2, on_outcome=on_outcome)
    assert run.ok and sorted(seen) == sorted(items) and len(seen) == len(items)
    assert not overlap
    assert len(started_while_slow) >= 5  # the other worker kept going


def test_an_exception_in_a_callback_stops_the_run_and_is_raised():
    started: list[int] = []

    def work(item):
        started.append(item)
        time.sleep(0.005)

    def on_outcome(outcome):
        if outcome.key == 3:
            raise ValueError("the callback broke")

    with pytest.raises(ValueError, match="the callback broke"):
        run_parallel(list(range(200)), work, jobs=2, on_outcome=on_outcome)
    assert len(started) < 20  # nothing new started after it


def test_a_long_chain_and_a_diamond_run_in_dependency_order():
    order: list[int] = []
    items = list(range(300))
    deps = {i: [i - 1] for i in items[1:]}  # 0 <- 1 <- 2 ... one at a time, whatever the jobs
    run = run_parallel(list(reversed(items)), order.append, jobs=4, deps=deps)
    assert run.ok and order == items
    order.clear()
    run = run_parallel(["top", "left", "right", "base"], order.append, jobs=2,
                       deps={"top": ["left", "right"], "left": ["base"], "right": ["base", "base"]})
    assert run.ok and order[0] == "base" and order[-1] == "top" and set(order[1:3]) == {"left", "right"}


def test_a_broken_reporter_is_raised_rather_than_waited_on():
    from metarepo.report import NullReporter

    class Broken(NullReporter):
        def item_started(self, key):
            if key == "b":
                raise RuntimeError("the reporter broke")

    with pytest.raises(RuntimeError, match="the reporter broke"):
        run_parallel(["a", "b", "c"], lambda i: i, jobs=2, deps={"c": ["b"]}, reporter=Broken())


def test_after_a_ctrl_c_the_same_process_can_run_again(tmp_path):
    import signal

    from metarepo.runner import INTERRUPTED

    def work(item):
        if item == "first":
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # Ctrl-C lands in the main thread
        result = run_command(["sleep", "30"], cwd=tmp_path)
        return result.returncode

    started = time.monotonic()
    run = run_parallel(["first", "second"], work, jobs=2)
    assert run.interrupted and {o.state for o in run.outcomes} == {INTERRUPTED}
    assert time.monotonic() - started < 20
    again = run_parallel(["later"], lambda item: run_command(["true"], cwd=tmp_path).returncode, jobs=1)
    assert again.ok and again.outcomes[0].value == 0
    assert run_command(["true"], cwd=tmp_path).ok


def test_states_are_an_enum_that_reads_as_its_value():
    import json

    from metarepo.runner import State

    run = run_parallel(["a"], lambda item: None, jobs=1)
    state = run.outcomes[0].state
    assert state is State.DONE and state == "done" and f"{state}" == "done" and str(state) == "done"
    assert json.dumps({"status": state}) == '{"status": "done"}'
