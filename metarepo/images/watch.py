"""Wake a rollout's wait loop the moment Swarm reports a change to a service, not at its next poll.

The engine's event stream sends an ``update`` event for a service whenever
its spec or its update status changes (``updatestate.new: completed``), so
an update is seen finished within milliseconds instead of up to one polling
interval later; over a fleet rolled out one service at a time, that lag
adds up. The stream only wakes the loop early: the loop still reads the
service itself and still polls, so an engine (or a proxy in front of it)
that does not stream events, or drops the stream, costs at most the
polling interval, as before.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any


class ServiceWatch:
    """``wait(seconds)`` returns when the service changes, or after ``seconds``, whichever is first."""

    def __init__(self, api: Any, service_id: str) -> None:
        self._changed = threading.Event()
        self._stream: Any = None
        try:
            self._stream = api.events(filters={"type": "service", "service": service_id}, decode=True)
        except Exception:  # noqa: BLE001 - no events from this engine: polling alone, as before
            return
        threading.Thread(target=self._read, name=f"swarm-events-{service_id[:12]}", daemon=True).start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):  # the stream ended or was closed: the loop polls on
            for _ in self._stream:
                self._changed.set()

    def wait(self, seconds: float) -> None:
        self._changed.wait(seconds)
        self._changed.clear()

    def close(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(Exception):  # some transports (paramiko) cannot cancel a stream
                self._stream.close()
            self._stream = None

    def __enter__(self) -> "ServiceWatch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
