#!/usr/bin/env python3
"""Peak memory of one command, measured from a fresh process (so nothing earlier counts).

    peak_rss.py self OUT.json -- ARGS...    run `meta ARGS` inside this very process
                                           (metarepo.cli.main:main, the console script's
                                           entry point); report this process's own peak RSS
                                           (getrusage RUSAGE_SELF)
    peak_rss.py tree OUT.json -- ARGV...   run ARGV as a child; report the largest peak RSS of
                                           any single process in its tree (RUSAGE_CHILDREN; Linux
                                           counts a forked child's inherited pages, so this is at
                                           least the parent's own peak) and
                                           the peak of the tree's summed RSS, sampled from /proc
                                           every 10 ms

The command's stdout and stderr go to /dev/null. Sizes are KiB.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def _devnull_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)


def run_self(args: list[str]) -> dict:
    _devnull_stdio()
    sys.argv = ["meta", *args]
    t0 = time.perf_counter()
    code = 0
    try:
        from metarepo.cli.main import main

        main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    seconds = time.perf_counter() - t0
    return {"mode": "self", "exit_code": code, "seconds": round(seconds, 3),
            "self_peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def _tree_rss_kib(root: int) -> int:
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(name)] = int(fields[1])
        rss[int(name)] = int(fields[21]) * page_kib
    total = 0
    for pid in rss:
        p = pid
        while p and p != root:
            p = parents.get(p, 0)
        if p == root:
            total += rss[pid]
    return total


def run_tree(argv: list[str]) -> dict:
    null = open(os.devnull, "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=null, stderr=null)
    tree_peak = 0
    while proc.poll() is None:
        tree_peak = max(tree_peak, _tree_rss_kib(proc.pid))
        time.sleep(0.01)
    return {"mode": "tree", "exit_code": proc.returncode, "seconds": round(time.perf_counter() - t0, 3),
            "largest_process_peak_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            "tree_sampled_peak_rss_kib": tree_peak}


def main() -> None:
    mode, out, sep, *rest = sys.argv[1:]
    assert sep == "--", "usage: peak_rss.py self|tree OUT.json -- ARGS..."
    result = run_self(rest) if mode == "self" else run_tree(rest)
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
