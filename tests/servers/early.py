"""A slow server started in a thread while other tests run, and waited for only by the test that needs it.

`EarlyStart(running)` enters the context manager ``running()`` in a thread
at once; `result()` waits for it and returns what it yielded (or raises what
it raised); `close()` waits for it too, then exits it (stopping the server).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, ContextManager


class EarlyStart:
    def __init__(self, running: Callable[[], ContextManager[Any]]) -> None:
        self._stack = contextlib.ExitStack()
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._enter, args=(running,), daemon=True)
        self._thread.start()

    def _enter(self, running: Callable[[], ContextManager[Any]]) -> None:
        try:
            self._value = self._stack.enter_context(running())
        except BaseException as error:  # noqa: BLE001 - handed to the test that asks for the server
            self._error = error

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value

    def close(self) -> None:
        self._thread.join()
        self._stack.close()
