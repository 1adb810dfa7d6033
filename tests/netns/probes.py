"""HTTP requests sent from inside a network namespace the tests made.

``fetch`` sends requests from a short-lived Python inside the namespace and
returns each reply; ``probing`` keeps one requesting a URL in the background
(for "no request failed during the rollout" checks) and hands back every
reply when the block ends.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from tests.netns.namespaces import Namespace, popen_in, run_in

# argv: url, count (0: until SIGTERM), per-request timeout, pause between requests.
_CLIENT = r"""
import json, signal, sys, time, urllib.error, urllib.request
url, count, timeout, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
sent = 0
while count == 0 or sent < count:
    started = time.time()
    reply = {"at": started}
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            reply.update(status=response.status, body=response.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        reply.update(status=error.code, body=error.read().decode("utf-8", "replace"))
    except Exception as error:
        reply.update(status=None, error=f"{type(error).__name__}: {error}")
    reply["seconds"] = time.time() - started
    print(json.dumps(reply), flush=True)
    sent += 1
    if pause:
        time.sleep(pause)
"""


@dataclass(frozen=True)
class Reply:
    status: int | None  # None when no HTTP answer came (refused, reset, timed out)
    body: str = ""
    error: str = ""
    at: float = 0.0  # time.time() when it was sent
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == 200


def _parse(lines: str) -> list[Reply]:
    replies = []
    for line in lines.splitlines():
        with contextlib.suppress(ValueError):
            data = json.loads(line)
            replies.append(Reply(status=data.get("status"), body=data.get("body", ""), error=data.get("error", ""),
                                 at=data.get("at", 0.0), seconds=data.get("seconds", 0.0)))
    return replies


def fetch(namespace: Namespace, url: str, *, count: int = 1, timeout: float = 5) -> list[Reply]:
    """``count`` GET requests to ``url``, one after the other, from inside ``namespace``."""
    proc = run_in(namespace, [sys.executable, "-c", _CLIENT, url, str(count), str(timeout), "0"],
                  timeout=30 + count * (timeout + 1))
    return _parse(proc.stdout)


def wait_for_replies(namespace: Namespace, url: str, done: Callable[[list[Reply]], bool], *, seconds: float = 60,
                     batch: int = 8, what: str = "") -> list[Reply]:
    """Fetch ``url`` in batches until ``done(every reply so far that succeeded)``; raises after ``seconds``."""
    deadline = time.monotonic() + seconds
    good: list[Reply] = []
    last: list[Reply] = []
    while time.monotonic() < deadline:
        last = fetch(namespace, url, count=batch, timeout=3)
        good.extend(r for r in last if r.ok)
        if done(good):
            return good
        if not any(r.ok for r in last):
            time.sleep(0.5)  # nothing answers yet: do not spin
    raise AssertionError(f"{what or url}: not reached in {seconds:g}s; last replies: {last[-3:]}, "
                         f"bodies seen: {sorted({r.body.strip() for r in good})}")


class Probe:
    """The replies a background ``probing`` client has had so far (all of them once its block ended)."""

    def __init__(self, out: Path):
        self._out = out
        self._final: list[Reply] | None = None

    def replies(self) -> list[Reply]:
        return self._final if self._final is not None else _parse(self._out.read_text())

    def _close(self) -> None:
        self._final = _parse(self._out.read_text())


@contextlib.contextmanager
def probing(namespace: Namespace, url: str, *, pause: float = 0.05, timeout: float = 2) -> Iterator[Probe]:
    """Request ``url`` from inside ``namespace`` every ``pause`` seconds while the block runs."""
    with tempfile.TemporaryDirectory(prefix="mtnet-probe-") as folder:
        out = Path(folder) / "replies.jsonl"
        with out.open("w") as sink:
            proc = popen_in(namespace, [sys.executable, "-c", _CLIENT, url, "0", str(timeout), str(pause)],
                            stdout=sink, stderr=subprocess.DEVNULL)
        probe = Probe(out)
        try:
            yield probe
        finally:
            proc.terminate()
            try:
                proc.wait(timeout + 10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            probe._close()
