"""A time limit on one render: a template from a cloned meta repo must not hang ``meta``.

The sandbox bounds what one expression may make (``range``, ``*``, ``**``),
but loops nest: ``{% for i in range(100000) %}{% for j in range(100000) %}``
makes nothing and runs for hours. Jinja runs a template as Python code in the
calling thread, and Python can only stop a thread from inside it; so a timer
thread asks the interpreter to raise ``RenderTimeout`` in the rendering
thread at its next bytecode (``PyThreadState_SetAsyncExc``, the documented C
API for this). A render that ends first cancels the timer under a lock, so
nothing is raised after the block is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from typing import Iterator

RENDER_SECONDS = 10.0  # a pipeline renders in about a millisecond


class RenderTimeout(Exception):
    """The render ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float | None = None) -> Iterator[None]:
    """Raise ``RenderTimeout`` inside the block once it has run ``seconds`` (``RENDER_SECONDS``)."""
    limit = RENDER_SECONDS if seconds is None else seconds
    thread = threading.get_ident()
    guard = threading.Lock()
    state = {"done": False, "fired": False}

    def expire() -> None:
        with guard:
            if state["done"]:
                return
            state["fired"] = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(RenderTimeout))

    timer = threading.Timer(limit, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except RenderTimeout as exc:  # raised where the template was: its traceback names the template line
        exc.args = (f"took longer than {limit:g}s",)
        raise
    finally:
        with guard:
            state["done"] = True
        timer.cancel()
        if state["fired"]:  # raised, or about to be: take it here, where it is expected
            try:
                for _ in range(1000):
                    pass
            except RenderTimeout:
                pass
    if state["fired"]:
        raise RenderTimeout(f"took longer than {limit:g}s")
