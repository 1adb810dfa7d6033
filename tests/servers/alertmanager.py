"""Alertmanager (Debian's ``prometheus-alertmanager``), alone: no cluster, no gossip port.

`running_alertmanager()` starts it with ``--storage.path`` in a temp dir of
its own, ``--web.listen-address=127.0.0.1:PORT`` and an empty
``--cluster.listen-address`` (so it opens no other port), ready when
``/-/ready`` answers 200. Its default config routes everything to a
receiver that sends nothing (``null``); a test may give its own ``config``.

`Alertmanager.post(*alerts)` is ``POST /api/v2/alerts``; `alerts(**labels)`
is ``GET /api/v2/alerts`` filtered by those labels (active ones only, by
default); `reload()` is ``POST /-/reload``; `check_config(path)` is
``amtool check-config``.
"""

from __future__ import annotations

import contextlib
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.servers.process import ConfigRejected, Validation, free_port, installed, running, temp_dir, validate
from tests.servers.web import answers, call

PACKAGES = {"prometheus-alertmanager": "prometheus-alertmanager", "amtool": "prometheus-alertmanager"}
NULL_CONFIG = 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n'


@dataclass(frozen=True)
class Alertmanager:
    base: Path
    port: int
    process: subprocess.Popen

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def config(self) -> Path:
        return self.base / "alertmanager.yml"

    def post(self, *alerts: dict) -> None:
        """Raise alerts: each ``{"labels": {...}, "annotations": {...}}`` (startsAt/endsAt optional)."""
        reply = call(f"{self.url}/api/v2/alerts", "POST", data=list(alerts))
        if reply.status != 200:
            raise RuntimeError(f"alertmanager refused the alerts ({reply.status}): {reply.text.strip()}")

    def alerts(self, *, active: bool = True, **labels: str) -> list[dict]:
        """The alerts whose labels include ``labels`` (``service="orders"``)."""
        query = [("filter", f'{key}="{value}"') for key, value in labels.items()]
        query += [("active", "true")] if active else []
        reply = call(f"{self.url}/api/v2/alerts?{urllib.parse.urlencode(query)}")
        if reply.status != 200:
            raise RuntimeError(f"alertmanager's alerts ({reply.status}): {reply.text.strip()}")
        return reply.json()

    def reload(self) -> None:
        reply = call(f"{self.url}/-/reload", "POST", timeout=30)
        if reply.status != 200:
            raise ConfigRejected(f"alertmanager refused the new config: {reply.text.strip()}")


def check_config(path: Path) -> Validation:
    return validate([installed("amtool") or "amtool", "check-config", str(path)])


@contextlib.contextmanager
def running_alertmanager(config: str | None = None, seconds: float = 60) -> Iterator[Alertmanager]:
    with temp_dir("alertmanager") as base:
        (base / "data").mkdir()
        (base / "alertmanager.yml").write_text(NULL_CONFIG if config is None else config)
        port = free_port()
        argv = [installed("prometheus-alertmanager") or "prometheus-alertmanager",
                f"--config.file={base / 'alertmanager.yml'}", f"--storage.path={base / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]
        with running(argv, what="alertmanager", log=base / "alertmanager.log", cwd=base, seconds=seconds,
                     ready=lambda: answers(f"http://127.0.0.1:{port}/-/ready")) as proc:
            yield Alertmanager(base, port, proc)
