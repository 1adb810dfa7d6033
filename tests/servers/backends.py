"""Tiny HTTP servers in a thread on 127.0.0.1, for the real servers to talk to.

`http_backend(body)` answers every GET with ``body`` (a proxy's upstream) and
records the paths it served; `metrics_endpoint()` serves ``/metrics`` in
Prometheus' text format with the values a test sets (a service Prometheus
scrapes).
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator


@dataclass(frozen=True)
class Backend:
    port: int
    paths: list[str] = field(default_factory=list)  # every path it served, in order

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class MetricsEndpoint:
    port: int
    _values: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set sample ``name{labels}`` to ``value`` (what the next scrape sees)."""
        rendered = ",".join(f'{key}="{_escape(val)}"' for key, val in sorted(labels.items()))
        with self._lock:
            self._values[f"{name}{{{rendered}}}" if rendered else name] = value

    def exposition(self) -> str:
        with self._lock:
            return "".join(f"{sample} {value}\n" for sample, value in self._values.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@contextlib.contextmanager
def http_backend(body: str = "ok") -> Iterator[Backend]:
    backend: Backend | None = None

    def answer(path: str) -> tuple[str, str]:
        backend.paths.append(path)
        return body, "text/plain; charset=utf-8"

    with _serving(answer) as port:
        backend = Backend(port)
        yield backend


@contextlib.contextmanager
def metrics_endpoint() -> Iterator[MetricsEndpoint]:
    endpoint: MetricsEndpoint | None = None

    def answer(path: str) -> tuple[str, str] | None:
        return (endpoint.exposition(), "text/plain; version=0.0.4") if path == "/metrics" else None

    with _serving(answer) as port:
        endpoint = MetricsEndpoint(port)
        yield endpoint


@contextlib.contextmanager
def _serving(answer: Callable[[str], tuple[str, str] | None]) -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            found = answer(self.path)
            payload = (found[0] if found else "not found\n").encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", found[1] if found else "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet, like the other servers' logs
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
