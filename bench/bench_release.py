#!/usr/bin/env python3
"""Benchmark: `meta release plan` over a generated fleet, against the same git calls under `xargs -P`.

    python bench/bench_release.py [--repos 500] [--commits 50] [--runs 5] [--keep DIR] [--json]

Generates (in a temp dir, with `git fast-import`) REPOS repositories, each
with a release tag `v1.0.0` and COMMITS Conventional Commits since it
(feat, fix, docs, chore, perf, some with a body or a `BREAKING CHANGE`
footer), and a `.meta` listing them. Then it times, as fresh processes in
interleaved rounds (bench/measure.py), after a warm-up each:

1. `meta release plan` (every repo's next version, its changelog, the order);
2. the peer: the two git calls `plan` makes per repo, `git describe --tags
   --abbrev=0 --match ... HEAD` and `git log --format=... v1.0.0..HEAD`,
   each over every repo under `xargs -P <cores>` (no shell per repo: the
   cheapest way to ask git the same questions).

It prints the medians, the ratio (target: within 1.5x) and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import _blob, _git  # noqa: E402
from measure import Command, load_average, measure  # noqa: E402

TARGET = 1.5
KINDS = ("feat", "fix", "docs", "chore", "fix", "perf", "refactor", "feat(api)", "test", "fix(db)")


def history(index: int, commits: int) -> bytes:
    """A fast-import stream: a first commit tagged v1.0.0, then ``commits`` Conventional Commits."""
    stamp = 1_700_000_000 + index * 97
    out = []
    for n in range(commits + 1):
        kind = KINDS[(index + n) % len(KINDS)]
        message = (f"chore: svc{index:04d} begins" if n == 0 else
                   f"{kind}: change {n} of svc{index:04d}" + ("\n\nWhy it changed, at some length.\n" if n % 4 == 0
                                                             else "") +
                   ("\n\nBREAKING CHANGE: the old endpoint is gone" if n == commits and index % 7 == 0 else ""))
        data = message.encode()
        who = b"Bench <bench@example.invalid> %d +0000" % (stamp + n * 60)
        out.append(b"commit refs/heads/main\nauthor %s\ncommitter %s\ndata %d\n%s\n" % (who, who, len(data), data))
        out.append(_blob(f"src/part{n % 5}.py", f"VALUE = {n}\n"))
        out.append(b"\n")
        if n == 0:
            out.append(b"tag v1.0.0\nfrom refs/heads/main\ntagger %s\ndata 6\nv1.0.0\n" % who)
    return b"".join(out)


def _repo(services: Path, index: int, commits: int) -> None:
    path = services / f"svc{index:04d}"
    _git("init", "--quiet", "--initial-branch=main", str(path))
    _git("fast-import", "--quiet", cwd=path, stdin=history(index, commits))
    _git("reset", "--quiet", "--hard", "main", cwd=path)


def generate(root: Path, repos: int, commits: int) -> tuple[Path, list[Path]]:
    ws = root / "ws"
    services = ws / "services"
    services.mkdir(parents=True)
    projects = {f"services/svc{i:04d}": f"file:///nowhere/svc{i:04d}.git" for i in range(repos)}
    (ws / ".meta").write_text(json.dumps({"projects": projects, "metarepo": {"defaults": {"branch": "main"}}},
                                         indent=2) + "\n")
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 2) * 2) as pool:
        for future in [pool.submit(_repo, services, i, commits) for i in range(repos)]:
            future.result()
    return ws, [services / f"svc{i:04d}" for i in range(repos)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=500)
    parser.add_argument("--commits", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="generate the fleet here and keep it")
    parser.add_argument("--json", action="store_true", help="also print the numbers as one JSON document")
    args = parser.parse_args()
    cores = os.cpu_count() or 2
    with tempfile.TemporaryDirectory(prefix="bench-release-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        ws, paths = generate(root, args.repos, args.commits)
        print(f"fleet: {args.repos} repos x {args.commits} commits since v1.0.0, made in "
              f"{time.perf_counter() - t0:.1f}s; {cores} cores")
        listing = root / "paths.txt"
        listing.write_text("".join(f"{p}\n" for p in paths))
        describe = ["describe", "--tags", "--abbrev=0", "--match", "v[0-9]*.[0-9]*.[0-9]*", "--exclude", "v*-*",
                    "HEAD"]
        log = ["log", "--format=%H%x00%P%x00%B%x1e", "refs/tags/v1.0.0..HEAD", "--"]
        xargs = ["xargs", "-P", str(cores), "-I", "{}", "git", "-C", "{}"]
        script = (f'{" ".join(xargs)} {" ".join(repr(a) for a in describe)} < "$1" > /dev/null && '
                  f'{" ".join(xargs)} {" ".join(repr(a) for a in log)} < "$1" > /dev/null')
        commands = [
            Command("meta release plan", [sys.executable, "-m", "metarepo", "release", "plan"], cwd=ws,
                    env={"META_JOBS": str(cores)}),
            Command("git describe + git log under xargs -P", ["sh", "-c", script, "sh", str(listing)], cwd=ws),
        ]
        meta_timing, peer_timing = measure(commands, args.runs)
        ratio = meta_timing.median / peer_timing.median
        verdict = "PASS" if ratio <= TARGET else "MISS"
        print(f"{peer_timing.label}: median {peer_timing.median:.2f}s")
        print(f"{meta_timing.label}: median {meta_timing.median:.2f}s   ratio {ratio:.2f}x (target {TARGET}x) {verdict}")
        print(f"load average: {' '.join(f'{x:.2f}' for x in load_average())}")
        if args.json:
            print(json.dumps({"repos": args.repos, "commits": args.commits, "ratio": round(ratio, 3),
                              "timings": [meta_timing.as_json(), peer_timing.as_json()]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
