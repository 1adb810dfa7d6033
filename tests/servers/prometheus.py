"""Prometheus, with a config of its own or the test's, and promtool's checks.

`running_prometheus()` starts ``prometheus --config.file --storage.tsdb.path
--web.listen-address=127.0.0.1:PORT --web.enable-lifecycle`` in a temp dir of
its own, ready when ``/-/ready`` answers 200. Its default config scrapes and
evaluates every second (``interval``) and sends firing alerts again every
second (not every minute: its Alertmanager is found after the first ones
fired); one job whose targets are the
``targets/*.json`` files (file_sd) that `Prometheus.scrape(job, addresses)`
writes, the rules in ``rules/*.yml``, and alerts sent to ``alertmanager``
(host:port) when one is given. A test may give its own ``config`` text
instead; ``files`` are written beside it first (relative paths in a
Prometheus config are relative to the config's folder).

Prometheus hands what its discovery finds to its scrapers and its notifier
every 5 s (fixed in its code), so a target or an Alertmanager is first used
some 5 s after it is configured; monitoring.py pays that once a session.

`Prometheus.reload()` is ``POST /-/reload``, raising `ConfigRejected` with
Prometheus' words when the new config does not load; `query(expr)` is an
instant query; `wait_for(expr)` polls one until it returns a sample.
`check_config(path)` and `check_rules(*paths)` run promtool.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tests.servers.process import ConfigRejected, Validation, free_port, installed, running, temp_dir, validate
from tests.servers.web import answers, call

PACKAGES = {"prometheus": "prometheus", "promtool": "prometheus"}


@dataclass(frozen=True)
class Prometheus:
    base: Path
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.base / "prometheus.yml"

    @property
    def log(self) -> Path:
        return self.base / "prometheus.log"

    def write(self, name: str, text: str) -> Path:
        """Write a file beside the config (``rules/orders.yml``), atomically: file_sd watches these."""
        return _write(self.base, name, text)

    def scrape(self, job: str, addresses: list[str], **labels: str) -> None:
        """Have the default config's file_sd scrape ``addresses`` (host:port) as ``job``, with ``labels``."""
        self.write(f"targets/{job}.json", json.dumps([{"targets": addresses, "labels": {"job": job, **labels}}]))

    def reload(self) -> None:
        reply = call(f"{self.url}/-/reload", "POST", timeout=30)
        if reply.status != 200:
            raise ConfigRejected(f"prometheus refused the new config: {reply.text.strip()}")

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/PATH?PARAMS``'s ``data`` (``api("rules")``, ``api("alerts")``)."""
        reply = call(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}")
        doc = reply.json()
        if reply.status != 200 or doc.get("status") != "success":
            raise RuntimeError(f"prometheus' /api/v1/{path} {params} failed: {doc.get('error', reply.text)}")
        return doc["data"]

    def query(self, expr: str) -> list[dict]:
        """An instant query's result: a list of ``{"metric": {...}, "value": [time, "value"]}``."""
        return self.api("query", query=expr)["result"]

    def wait_for(self, expr: str, seconds: float = 30) -> list[dict]:
        """Poll the instant query ``expr`` until it returns a sample; return the result."""
        deadline = time.monotonic() + seconds
        while True:
            found = self.query(expr)
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if not found:
            raise AssertionError(f"{expr!r} returned nothing in {seconds:g}s; targets: {self.targets()}")
        return found

    def targets(self) -> list[dict]:
        """The active targets: ``scrapeUrl``, ``health``, ``lastError``, ``labels``."""
        return self.api("targets", state="active")["activeTargets"]


def default_config(base: Path, interval: str = "1s", alertmanager: str | None = None) -> str:
    doc = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(base / "rules" / "*.yml")],
        "scrape_configs": [{"job_name": "targets", "file_sd_configs": [{"files": [str(base / "targets" / "*.json")]}]}],
    }
    if alertmanager:
        doc["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return json.dumps(doc, indent=2) + "\n"  # JSON is YAML


def check_config(path: Path) -> Validation:
    """``promtool check config PATH`` (it checks the rule files the config names too)."""
    return _promtool("check", "config", str(path))


def check_rules(*paths: Path) -> Validation:
    return _promtool("check", "rules", *map(str, paths))


@contextlib.contextmanager
def running_prometheus(config: str | None = None, *, files: dict[str, str] | None = None, interval: str = "1s",
                       alertmanager: str | None = None, seconds: float = 60) -> Iterator[Prometheus]:
    with temp_dir("prometheus") as base:
        for folder in ("targets", "rules", "data"):
            (base / folder).mkdir()
        for name, text in (files or {}).items():
            _write(base, name, text)
        (base / "prometheus.yml").write_text(config if config is not None
                                             else default_config(base, interval, alertmanager))
        port = free_port()
        argv = [installed("prometheus") or "prometheus", f"--config.file={base / 'prometheus.yml'}",
                f"--storage.tsdb.path={base / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle", "--rules.alert.resend-delay=1s"]
        with running(argv, what="prometheus", log=base / "prometheus.log", cwd=base, seconds=seconds,
                     ready=lambda: answers(f"http://127.0.0.1:{port}/-/ready")) as proc:
            yield Prometheus(base, port, proc)


def _write(base: Path, name: str, text: str) -> Path:
    path = base / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # a name no file_sd glob matches
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(temp, path)
    return path


def _promtool(*args: str) -> Validation:
    return validate([installed("promtool") or "promtool", *args])
