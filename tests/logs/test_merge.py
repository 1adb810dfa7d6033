"""The history merge and the follow merge: order, quiet streams, back-pressure, a clean stop."""

from __future__ import annotations

import queue
import threading
import time

from metarepo.logs.lines import LogLine, Stream, format_ns
from metarepo.logs.merge import FollowMerge, merge_history

S = 10**9


def line(service: str, at: int, text: str = "") -> LogLine:
    return LogLine(at, service, Stream.STDOUT, text or f"{service}@{at}", format_ns(at))


class Feed:
    """A blocking stream of lines, as a socket would be: ``put`` lines, ``close()`` ends it."""

    _END = object()

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()

    def put(self, *lines: LogLine) -> None:
        for item in lines:
            self.queue.put(item)

    def close(self) -> None:
        self.queue.put(self._END)

    def __iter__(self):
        while (item := self.queue.get()) is not self._END:
            yield item


def test_history_is_in_time_order_and_ties_keep_the_streams_order():
    a = [line("a", 1), line("a", 5), line("a", 5, "a-second-5"), line("a", 9)]
    b = [line("b", 2), line("b", 5), line("b", 7)]
    c = [line("c", 0), line("c", 5)]
    merged = [(l.service, l.at, l.text) for l in merge_history([a, b, c])]
    assert merged == [("c", 0, "c@0"), ("a", 1, "a@1"), ("b", 2, "b@2"), ("a", 5, "a@5"), ("a", 5, "a-second-5"),
                      ("b", 5, "b@5"), ("c", 5, "c@5"), ("b", 7, "b@7"), ("a", 9, "a@9")]


def test_history_reads_each_stream_lazily():
    pulled = []

    def stream(name):
        for n in range(1000):
            pulled.append(name)
            yield line(name, n * 2 + (name == "b"))

    merged = merge_history([stream("a"), stream("b")])
    assert [next(merged).at for _ in range(10)] == list(range(10))
    assert len(pulled) <= 12


def test_follow_waits_for_a_late_history_then_merges_it_in_order():
    now = time.time_ns()
    fast, slow = Feed(), Feed()
    merge = FollowMerge(lateness=1.0)
    merge.add("fast", fast, fast.close)
    merge.add("slow", slow, slow.close)
    fast.put(*[line("fast", now - 10 * S + n * S) for n in range(0, 10, 2)])  # old lines, at once

    def late() -> None:
        time.sleep(0.4)  # its history arrives later, but within the lateness
        slow.put(*[line("slow", now - 10 * S + n * S) for n in range(1, 10, 2)])

    threading.Thread(target=late).start()
    got = []
    for item in merge:
        got.append(item.service)
        if len(got) == 10:
            break
    merge.close()
    assert got == ["fast", "slow"] * 5


def test_a_quiet_stream_holds_the_others_back_by_the_lateness_at_most():
    talker, quiet = Feed(), Feed()
    merge = FollowMerge(lateness=0.3)
    merge.add("quiet", quiet, quiet.close)
    merge.add("talker", talker, talker.close)
    t0 = time.monotonic()
    talker.put(line("talker", time.time_ns()))
    first = next(iter(merge))
    waited = time.monotonic() - t0
    merge.close()
    assert first.service == "talker" and 0.2 < waited < 2.0


def test_a_slow_reader_holds_the_streams_back_instead_of_buffering():
    made = []

    def endless():
        n = 0
        while True:
            n += 1
            made.append(n)
            yield line("chatty", time.time_ns(), f"line {n}")

    stop = threading.Event()
    merge = FollowMerge(lateness=0.05, capacity=64)
    merge.add("chatty", endless(), stop.set)
    lines = iter(merge)
    for _ in range(10):
        next(lines)
    time.sleep(0.5)  # a reader that stopped reading: the producer must stop too
    assert len(made) <= 10 + 64 + 2
    merge.close()


def test_close_ends_every_reader_thread_and_the_iteration():
    feeds = [Feed() for _ in range(3)]
    merge = FollowMerge(lateness=0.1)
    for n, feed in enumerate(feeds):
        merge.add(f"s{n}", feed, feed.close)
    feeds[0].put(line("s0", time.time_ns()))
    lines = iter(merge)
    assert next(lines).service == "s0"
    merge.close()
    assert list(lines) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("meta-logs-")]


def test_a_stream_that_breaks_is_reported_and_the_others_go_on():
    errors = []

    def broken():
        yield line("broken", time.time_ns())
        raise OSError("connection reset by peer")

    ok = Feed()
    merge = FollowMerge(lateness=0.1, on_error=lambda name, error: errors.append((name, error)))
    merge.add("broken", broken(), lambda: None)
    merge.add("ok", ok, ok.close)
    ok.put(line("ok", time.time_ns() + S // 10))
    lines = iter(merge)
    assert [next(lines).service, next(lines).service] == ["broken", "ok"]
    merge.close()
    assert errors == [("broken", "connection reset by peer")]


def test_a_sealed_merge_ends_when_its_streams_do():
    a, b = Feed(), Feed()
    merge = FollowMerge(lateness=0.1)
    merge.add("a", a, a.close)
    merge.add("b", b, b.close)
    merge.seal()
    now = time.time_ns()
    a.put(line("a", now), line("a", now + 2))
    b.put(line("b", now + 1))
    a.close()
    b.close()
    assert [l.service for l in merge] == ["a", "b", "a"]
