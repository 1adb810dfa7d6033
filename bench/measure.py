"""Timing fresh processes: one untimed warm-up each, then K interleaved rounds, medians.

Commands compared with each other are measured in the same rounds, one after
the other, so a change in machine load hits both. Every command's stdout and
stderr go to /dev/null, and its standard input is closed.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence


@dataclass
class Command:
    label: str
    argv: Sequence[str]
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # added to os.environ
    before: Callable[[], None] | None = None  # untimed, before every run (e.g. remove a clone)
    ok_codes: tuple[int, ...] = (0,)


@dataclass
class Timing:
    label: str
    argv: list[str]
    seconds: list[float]
    cpu_seconds: list[float]  # user + system of the whole process tree
    codes: list[int]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_seconds)

    def as_json(self) -> dict:
        return {"label": self.label, "argv": self.argv, "median_s": round(self.median, 4),
                "runs_s": [round(s, 4) for s in self.seconds], "cpu_median_s": round(self.cpu_median, 4),
                "exit_codes": self.codes}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(cmd: Command) -> tuple[float, float, int]:
    if cmd.before:
        cmd.before()
    env = {**os.environ, **cmd.env}
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    code = subprocess.run(list(cmd.argv), cwd=cmd.cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    elapsed = time.perf_counter() - t0
    return elapsed, _children_cpu() - cpu0, code


def measure(commands: Sequence[Command], runs: int, *, warmup: bool = True) -> list[Timing]:
    """Time each command ``runs`` times, round-robin, after one warm-up run of each."""
    timings = [Timing(c.label, list(map(str, c.argv)), [], [], []) for c in commands]
    if warmup:
        for cmd in commands:
            _, _, code = run_once(cmd)
            if code not in cmd.ok_codes:
                raise RuntimeError(f"{cmd.label}: exit status {code} ({' '.join(map(str, cmd.argv))}"
                                   f" in {cmd.cwd})")
    for _ in range(runs):
        for cmd, timing in zip(commands, timings):
            seconds, cpu, code = run_once(cmd)
            timing.seconds.append(seconds)
            timing.cpu_seconds.append(cpu)
            timing.codes.append(code)
    return timings


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()
