"""Many streams of log lines as one, in time order: all at once (history), or live (``--follow``).

**History** (``merge_history``): every stream is read to its end, lazily, and
``heapq.merge`` takes the earliest head each time: a k-way merge whose memory
is one buffer per stream. Lines of one stream keep their order; lines with
equal times come in the order of the streams (the services' order, then
their tasks').

**Follow** (``FollowMerge``): each stream is read by a thread of its own into
a bounded queue (``capacity`` lines); a reader whose queue is full waits, so
the socket or pipe behind it fills and the engine or kubectl slows down:
back-pressure, never unbounded buffering. The merge emits the earliest head
once no other stream can still produce an earlier line:

- a stream with a line waiting cannot (its lines come in order);
- a stream with nothing waiting cannot produce a line earlier than its own
  last one, nor, once it has caught up with the present, earlier than the
  platform's now minus ``lateness`` (a line reaches us within that of
  being written). A stream has caught up when a line of it arrives within
  ``lateness`` of its time, or when it has been quiet for ``lateness``.

A stream that carries several (kubectl following many pods writes each
pod's history in a rush, the pods interleaved) is split by a key into one
source per pod (``add_split``). So a quiet service holds the others back by
at most ``lateness`` (1 s), and
the guarantee is: lines are in time order, except a line that reaches
``meta`` more than ``lateness`` after it was written, which is printed the
moment it arrives (never dropped, and never before a line of its own
stream). The platform's now is our clock plus the best known offset (the
engine's ``SystemTime`` at the start, raised whenever a line turns up newer
than our clock allows).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from operator import attrgetter
from typing import Any, Callable, Iterable, Iterator

from metarepo.logs.lines import LogLine

_NS = 1_000_000_000


def merge_history(streams: Iterable[Iterable[LogLine]]) -> Iterator[LogLine]:
    """Every line of ``streams`` (each in time order) in time order; ties in the order of the streams."""
    return heapq.merge(*streams, key=attrgetter("at"))


class _Source:
    __slots__ = ("name", "index", "lines", "done", "last_at", "caught_up", "last_arrival", "space", "close",
                 "thread")

    def __init__(self, name: str, index: int, close: Callable[[], None], space: threading.Condition,
                 now: float) -> None:
        self.name, self.index, self.close, self.space = name, index, close, space
        self.lines: deque[LogLine] = deque()
        self.done = False
        self.last_at = -1
        self.caught_up = False
        self.last_arrival = now
        self.thread: threading.Thread | None = None


_WAIT, _DONE = object(), object()


class FollowMerge:
    """Live streams merged in time order (see the module's doc); iterate it for lines, ``close()`` to stop."""

    def __init__(self, *, lateness: float = 1.0, capacity: int = 256, offset_ns: int = 0, poll: float = 0.1,
                 on_idle: Callable[[], None] | None = None, on_error: Callable[[str, str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, wall_ns: Callable[[], int] = time.time_ns) -> None:
        self.lateness, self.capacity, self.poll = lateness, capacity, poll
        self._late_ns = int(lateness * _NS)
        self._offset = offset_ns  # the platform's clock minus ours, as best known
        self._on_idle, self._on_error = on_idle, on_error
        self._clock, self._wall = clock, wall_ns
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._sources: list[_Source] = []
        self._sealed = False  # no more sources will be added
        self._closed = False

    # -- the readers ------------------------------------------------------------

    def add(self, name: str, lines: Iterable[LogLine], close: Callable[[], None]) -> None:
        """Start reading ``lines`` (a blocking iterator); ``close()`` must make it end (a socket shut, a process ended)."""
        source = self._open(name, close)
        if source is not None:
            self._spawn(source, self._pump, lines)

    def add_split(self, name: str, keyed: Iterable[tuple[str, LogLine]], close: Callable[[], None]) -> None:
        """``add`` for one stream that carries several, each in order, told apart by a key (kubectl's pods).

        Each key becomes a stream of the merge when its first line comes; until
        then a stream with no lines holds the merge for ``lateness``, as any new
        stream does, so the pods that answer a little later are not overtaken.
        """
        barrier = self._open(name, close)
        if barrier is not None:
            self._spawn(barrier, self._pump_split, keyed)

    def seal(self) -> None:
        """No more sources will be added: the merge ends once every source has."""
        with self._lock:
            self._sealed = True
            self._ready.notify()

    def _open(self, name: str, close: Callable[[], None]) -> _Source | None:
        with self._lock:
            if self._closed:
                close()
                return None
            return self._new(name, close)

    def _new(self, name: str, close: Callable[[], None]) -> _Source:
        """A source (called holding the lock)."""
        source = _Source(name, len(self._sources), close, threading.Condition(self._lock), self._clock())
        self._sources.append(source)
        return source

    def _spawn(self, source: _Source, target: Callable[..., None], lines: Iterable[Any]) -> None:
        source.thread = threading.Thread(target=target, args=(source, lines), name=f"meta-logs-{source.name}",
                                         daemon=True)
        source.thread.start()

    def _pump(self, source: _Source, lines: Iterable[LogLine]) -> None:
        error = ""
        try:
            for line in lines:
                if not self._put(source, line):
                    return
        except Exception as exc:  # noqa: BLE001 - a stream that broke ends; the others go on
            error = _first_line(exc)
        finally:
            self._end([source], error)

    def _pump_split(self, barrier: _Source, keyed: Iterable[tuple[str, LogLine]]) -> None:
        sources: dict[str, _Source] = {}
        error = ""
        try:
            for key, line in keyed:
                source = sources.get(key)
                if source is None:
                    with self._lock:
                        source = sources[key] = self._new(f"{barrier.name}/{key}", lambda: None)
                if not self._put(source, line):
                    return
        except Exception as exc:  # noqa: BLE001 - as in _pump
            error = _first_line(exc)
        finally:
            self._end([barrier, *sources.values()], error)

    def _put(self, source: _Source, line: LogLine) -> bool:
        """Queue ``line``, waiting while the source's queue is full; False once the merge is closed."""
        with self._lock:
            while len(source.lines) >= self.capacity and not self._closed:
                source.space.wait()
            if self._closed:
                return False
            arrival = self._wall()
            self._offset = max(self._offset, line.at - arrival)
            if line.at >= arrival + self._offset - self._late_ns:
                source.caught_up = True
            source.last_at = max(source.last_at, line.at)
            source.last_arrival = self._clock()
            source.lines.append(line)
            self._ready.notify()
            return True

    def _end(self, sources: list[_Source], error: str) -> None:
        with self._lock:
            for source in sources:
                source.done = True
            closed = self._closed
            self._ready.notify()
        if error and not closed and self._on_error is not None:
            self._on_error(sources[0].name, error)

    # -- the merge ----------------------------------------------------------------

    def __iter__(self) -> Iterator[LogLine]:
        emitted = False
        while True:
            with self._lock:
                taken = self._take()
                if taken is _WAIT and not emitted:
                    self._ready.wait(self.poll)
                    continue
            if taken is _DONE:
                return
            if taken is _WAIT:
                emitted = False
                if self._on_idle is not None:
                    self._on_idle()
                continue
            emitted = True
            yield taken  # type: ignore[misc]

    def _take(self) -> object:
        """The next line if it may go now, else ``_WAIT`` (or ``_DONE``). Called holding the lock."""
        if self._closed:
            return _DONE
        heads = [s for s in self._sources if s.lines]
        if not heads:
            return _DONE if self._sealed and all(s.done for s in self._sources) else _WAIT
        first = min(heads, key=lambda s: (s.lines[0].at, s.index))
        at = first.lines[0].at
        now = self._clock()
        horizon = self._wall() + self._offset - self._late_ns  # nothing caught up is written before this
        for source in self._sources:
            if source is first or source.lines or source.done or source.last_at >= at:
                continue
            if not source.caught_up and now - source.last_arrival >= self.lateness:
                source.caught_up = True
            if not (source.caught_up and horizon >= at):
                return _WAIT
        line = first.lines.popleft()
        first.space.notify()
        return line

    def close(self) -> None:
        """Stop: every stream closed, every reader thread ended (or given up on after two seconds)."""
        with self._lock:
            self._closed = True
            sources = list(self._sources)
            self._ready.notify_all()
            for source in sources:
                source.space.notify_all()
        for source in sources:
            try:
                source.close()
            except Exception:  # noqa: BLE001 - closing what is already gone
                pass
        for source in sources:
            if source.thread is not None and source.thread is not threading.current_thread():
                source.thread.join(timeout=2)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
