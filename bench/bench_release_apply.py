#!/usr/bin/env python3
"""Benchmark: `meta release apply` of a whole train, against the bare pushes under `xargs -P`.

    python bench/bench_release_apply.py [--repos 200] [--commits 5] [--runs 3] [--push-delay 0.3] [--jobs N]

Generates REPOS repositories (bench_release.py's histories: a `v1.0.0` tag
and COMMITS Conventional Commits since), each with a bare `file://` remote
whose `pre-receive` hook sleeps PUSH_DELAY seconds, standing in for the
round trip to a network remote (0 for none). Then, as fresh processes in
interleaved rounds, every round starting from the same refs (put back
untimed before each run):

1. `meta release apply --no-rollout -j JOBS`: the whole train: the plan, the
   pre-flight (`git ls-remote` and a dry-run push per repository), version
   files, changelogs, release commits and tags, the pushes, the record;
2. the same with `-j 1`, the pushes one repository after another, as they
   were before they ran side by side;
3. the peer: only the pushes, `git push --atomic origin main TAG` per
   repository under `xargs -P JOBS`, of a commit and tag made beforehand
   (untimed).

It prints the medians, the ratios and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_release import generate  # noqa: E402
from measure import Command, load_average, measure  # noqa: E402

ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid", "GIT_COMMITTER_NAME": "Bench",
       "GIT_COMMITTER_EMAIL": "bench@example.invalid", "GIT_TERMINAL_PROMPT": "0"}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **ENV}, check=True, capture_output=True,
                          text=True).stdout.strip()


def wire_remote(path: Path, remotes: Path, delay: float) -> Path:
    """A bare remote for ``path`` (its main and v1.0.0), set as its origin, with a slow pre-receive hook."""
    remote = remotes / f"{path.name}.git"
    git("clone", "--quiet", "--bare", str(path), str(remote), cwd=remotes)
    git("remote", "add", "origin", str(remote), cwd=path)
    git("fetch", "--quiet", "origin", cwd=path)
    git("branch", "--quiet", "--set-upstream-to", "origin/main", cwd=path)
    git("remote", "set-head", "origin", "main", cwd=path)
    if delay > 0:
        hook = remote / "hooks" / "pre-receive"
        hook.write_text(f"#!/bin/sh\nsleep {delay:g}\n")
        hook.chmod(0o755)
    return remote


def make_fleet(root: Path, repos: int, commits: int, delay: float) -> tuple[Path, list[Path], list[Path]]:
    ws, paths = generate(root, repos, commits)
    remotes = root / "remotes"
    remotes.mkdir()
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 2) * 2) as pool:
        bare = list(pool.map(lambda p: wire_remote(p, remotes, delay), paths))
    meta = json.loads((ws / ".meta").read_text())
    meta["projects"] = {f"services/{p.name}": f"file://{r}" for p, r in zip(paths, bare)}
    (ws / ".meta").write_text(json.dumps(meta, indent=2) + "\n")
    (ws / ".gitignore").write_text("services/\n.metarepo/\n")
    git("init", "--quiet", "--initial-branch=main", cwd=ws)
    git("add", ".meta", ".gitignore", cwd=ws)
    git("commit", "--quiet", "-m", "the bench fleet", cwd=ws)
    return ws, paths, bare


def resetter(ws: Path, paths: list[Path], bare: list[Path]):
    """What puts every clone, remote and the meta repo back where the fleet began (run untimed)."""
    heads = [git("rev-parse", "main", cwd=p) for p in paths]
    meta_head = git("rev-parse", "HEAD", cwd=ws)

    def one(index: int) -> None:
        path, remote, head = paths[index], bare[index], heads[index]
        for where in (path, remote):
            tags = [t for t in git("tag", "--list", cwd=where).split() if t != "v1.0.0"]
            if tags:
                git("tag", "--delete", *tags, cwd=where)
        git("update-ref", "refs/heads/main", head, cwd=remote)
        git("reset", "--quiet", "--hard", head, cwd=path)
        git("update-ref", "refs/remotes/origin/main", head, cwd=path)

    def reset() -> None:
        git("reset", "--quiet", "--hard", meta_head, cwd=ws)
        git("clean", "--quiet", "-fdx", "--", "releases", cwd=ws)
        with ThreadPoolExecutor(max_workers=(os.cpu_count() or 2) * 2) as pool:
            list(pool.map(one, range(len(paths))))
    return reset


def peer_setup(paths: list[Path], reset) -> None:
    """Put back, then a release commit and tag in every clone, for the peer to push."""
    reset()

    def one(path: Path) -> None:
        git("commit", "--quiet", "--allow-empty", "-m", "chore(release): bench", cwd=path)
        git("tag", "--annotate", "-m", "bench", "vbench", cwd=path)
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 2) * 2) as pool:
        list(pool.map(one, paths))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--commits", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--push-delay", type=float, default=0.3, help="seconds each remote's pre-receive sleeps")
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-release-apply-") as tmp:
        ws, paths, bare = make_fleet(Path(tmp), args.repos, args.commits, args.push_delay)
        print(f"fleet: {args.repos} repos, remotes answering after {args.push_delay:g}s, -j {args.jobs}, "
              f"{os.cpu_count()} cores")
        reset = resetter(ws, paths, bare)
        listing = Path(tmp) / "paths.txt"
        listing.write_text("".join(f"{p}\n" for p in paths))
        meta = [sys.executable, "-m", "metarepo", "release", "apply", "--no-rollout", "--name", "bench"]
        push = 'git -C "$1" push --atomic --quiet origin main vbench'  # the path is an argument, not shell text
        commands = [
            Command(f"meta release apply -j {args.jobs}", [*meta, "-j", str(args.jobs)], cwd=ws, env=ENV,
                    before=reset),
            Command("meta release apply -j 1", [*meta, "-j", "1"], cwd=ws, env=ENV, before=reset),
            Command(f"git push under xargs -P {args.jobs}",
                    ["sh", "-c", 'xargs -P "$2" -I {} sh -c "$3" sh {} < "$1"', "sh", str(listing),
                     str(args.jobs), push], cwd=ws, env=ENV, before=lambda: peer_setup(paths, reset)),
        ]
        parallel, serial, peer = measure(commands, args.runs)
        for timing in (parallel, serial, peer):
            bad = [c for c in timing.codes if c != 0]
            print(f"{timing.label:<40} median {timing.median:6.2f}s" + (f"  EXIT {bad}" if bad else ""))
        print(f"-j {args.jobs} against -j 1: {parallel.median / serial.median:.2f}x; "
              f"against the bare pushes: {parallel.median / peer.median:.2f}x")
        print(f"load average: {' '.join(f'{x:.2f}' for x in load_average())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
