#!/usr/bin/env python3
"""Benchmark: metarepo against the real peers (npm meta, gita, xargs -P) on a generated fleet.

    python bench/run.py [--repos 500] [--runs 5] [--memory-repos 2000] [--keep DIR] [--json]
                        [--only exec,status,clone,help,memory]

Generates N small git repos with bare file:// remotes and a meta repo (see
bench/fleet.py), installs the peers into bench/.peers/ when missing (see
bench/peers.py), and times each command as a fresh process: one untimed
warm-up, then --runs interleaved rounds, medians. Every command writes to
/dev/null. meta runs with -j set to the number of cores, the same number as
xargs -P (clone: -j 4, as xargs -P 4). It prints each ratio (meta's median
over the peer's) with its target and PASS or MISS; --json also writes the
numbers to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fleet  # noqa: E402
import peers  # noqa: E402
from measure import Command, Timing, load_average, measure  # noqa: E402

SECTIONS = ("exec", "status", "clone", "help", "memory")
MIB = 1024


@dataclass
class Ratio:
    section: str
    name: str
    value: float | None  # None: the peer is missing
    target: str
    passed: bool | None
    note: str = ""
    cpu: float | None = None  # the same ratio of CPU time (user + system, whole process trees)

    def as_json(self) -> dict:
        return {"section": self.section, "name": self.name, "value": self.value, "target": self.target,
                "pass": self.passed, "cpu_ratio": self.cpu, "note": self.note or None}


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def compile_metarepo() -> str:
    """Byte-compile metarepo as ``pip install`` does for an installed package.

    An editable install under ``PYTHONDONTWRITEBYTECODE`` (set here) would
    otherwise compile every metarepo module from source on every run.
    """
    import compileall
    import metarepo

    compileall.compile_dir(str(Path(metarepo.__file__).parent), quiet=1)
    return str(Path(metarepo.__file__).parent)


def autogroup_note() -> str | None:
    try:
        enabled = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return None
    if not enabled:
        return None
    return ("the kernel's autogroup scheduling is on: meta starts each child in its own session (so Ctrl-C "
            "and --timeout end whole groups), which under competing load gives meta's children a larger "
            "CPU share than xargs' children; at low load this does not matter, so trust low-load numbers")


def meta_argv() -> list[str]:
    script = Path(sys.executable).with_name("meta")
    return [str(script)] if script.exists() else [sys.executable, "-m", "metarepo"]


class Report:
    def __init__(self) -> None:
        self.timings: dict[str, list[Timing]] = {}
        self.ratios: list[Ratio] = []
        self.memory: dict = {}
        self.notes: list[str] = []

    def line(self, text: str = "") -> None:
        print(text, flush=True)

    def timing_rows(self, section: str, timings: list[Timing]) -> None:
        self.timings[section] = timings
        for t in timings:
            self.line(f"    {t.label:<66} {t.median:8.3f}s   (cpu {t.cpu_median:6.2f}s)")

    def ratio(self, section: str, name: str, value: float | None, limit: float, *, at_most: bool = True,
              target: str | None = None, note: str = "", unit: str = "x") -> None:
        target = target or (f"<= {limit:g}" if at_most else f">= {limit:g}")
        passed = None if value is None else (value <= limit if at_most else value >= limit)
        self.ratios.append(Ratio(section, name, value, target, passed, note))
        shown = "    n/a  " if value is None else f"{value:7.2f}{unit:<2}"
        verdict = {True: "PASS", False: "MISS", None: "SKIP"}[passed]
        self.line(f"    {name:<66} {shown} target {target:<8} {verdict}"
                  + (f"  ({note})" if note else ""))

    def compare(self, section: str, name: str, ours: Timing, theirs: Timing, limit: float, **kwargs) -> None:
        """The ratio of medians (wall clock: the target), with the CPU-time ratio alongside."""
        cpu = ours.cpu_median / theirs.cpu_median if theirs.cpu_median else None
        note = kwargs.pop("note", "")
        cpu_note = f"cpu {cpu:.2f}x" if cpu is not None else ""
        self.ratio(section, name, ours.median / theirs.median, limit,
                   note="; ".join(n for n in (cpu_note, note) if n), **kwargs)
        self.ratios[-1].cpu = None if cpu is None else round(cpu, 3)


def by_label(timings: list[Timing]) -> dict[str, Timing]:
    return {t.label: t for t in timings}


def bench_exec(report: Report, ws: Path, paths_file: Path, jobs: int, runs: int, npm: peers.Peer) -> None:
    report.line(f'1. exec "git status --short" over the fleet (meta -j {jobs}, xargs -P {jobs})')
    commands = [
        Command("meta", [*meta_argv(), "exec", "-j", str(jobs), "git status --short"], cwd=ws),
        Command("xargs", ["sh", "-c", f"xargs -P {jobs} -I{{}} git -C {{}} status --short < {paths_file}"], cwd=ws),
    ]
    if npm.ok:
        commands += [
            Command("npm meta --parallel", [*npm.argv, "exec", "git status --short", "--parallel"], cwd=ws,
                    env=npm.env),
            Command("npm meta (sequential)", [*npm.argv, "exec", "git status --short"], cwd=ws, env=npm.env),
            Command("npm meta --version (start-up alone)", [*npm.argv, "--version"], cwd=ws, env=npm.env),
        ]
    labels = {
        "meta": f'meta exec -j {jobs} "git status --short"',
        "xargs": f"xargs -P {jobs} -I{{}} git -C {{}} status --short",
        "npm meta --parallel": 'npm meta exec "git status --short" --parallel',
        "npm meta (sequential)": 'npm meta exec "git status --short" (sequential, context)',
        "npm meta --version (start-up alone)": "npm meta --version (start-up alone, context)",
    }
    timings = measure(commands, runs)
    for t in timings:
        t.label = labels[t.label]
    report.timing_rows("exec", timings)
    t = by_label(timings)
    meta = t[labels["meta"]]
    report.compare("exec", "meta exec / xargs -P", meta, t[labels["xargs"]], 1.3)
    if npm.ok:
        report.compare("exec", "meta exec / npm meta exec --parallel", meta, t[labels["npm meta --parallel"]], 0.4,
                       note="npm meta also runs in the meta repo itself")
    else:
        report.ratio("exec", "meta exec / npm meta exec --parallel", None, 0.4, note=npm.problem)


def bench_status(report: Report, ws: Path, paths_file: Path, jobs: int, runs: int, gita: peers.Peer) -> None:
    report.line(f"2. status over the fleet (meta -j {jobs}, xargs -P {jobs})")
    commands = [
        Command(f"meta status -j {jobs}", [*meta_argv(), "status", "-j", str(jobs)], cwd=ws),
        Command(f"xargs -P {jobs} git -C {{}} status --porcelain=v2 --branch",
                ["sh", "-c", f"xargs -P {jobs} -I{{}} git -C {{}} status --porcelain=v2 --branch < {paths_file}"],
                cwd=ws),
    ]
    if gita.ok:
        commands.append(Command("gita ll", [*gita.argv, "ll"], cwd=ws, env=gita.env))
    # meta status keeps each commit's time and subject under .metarepo/, keyed by commit id, as any
    # user's second run has it; the row below shows a first run (cache removed before each run).
    cache = ws / ".metarepo"
    commands.append(Command(f"meta status -j {jobs}, cold (no .metarepo/ commit cache; context)",
                            [*meta_argv(), "status", "-j", str(jobs)], cwd=ws,
                            before=lambda: shutil.rmtree(cache, ignore_errors=True)))
    timings = measure(commands, runs)
    report.timing_rows("status", timings)
    meta = timings[0]
    report.compare("status", "meta status / xargs -P porcelain=v2", meta, timings[1], 1.5)
    if gita.ok:
        report.compare("status", "meta status / gita ll", meta, timings[2], 1 / 3, target="<= 0.33",
                       note="i.e. at least 3x faster")
    else:
        report.ratio("status", "meta status / gita ll", None, 1 / 3, target="<= 0.33", note=gita.problem)


def bench_clone(report: Report, root: Path, count: int, runs: int) -> None:
    jobs = 4
    report.line(f"3. clone the meta repo and its {count} projects from file:// remotes (meta -j {jobs}, xargs -P {jobs})")
    remotes = root / "remotes"
    meta_url = (remotes / "meta.git").as_uri()
    dest = root / "clone-dest"
    pairs = root / "clone-pairs.txt"
    pairs.write_text("".join(f"{(remotes / f'svc{i:04d}.git').as_uri()} {dest / 'services' / f'svc{i:04d}'}\n"
                             for i in range(count)))

    def clean() -> None:
        if dest.exists():
            shutil.rmtree(dest)
        # the disk's write-back of the last run should not be charged to the next one
        os.sync()

    commands = [
        Command(f"meta clone -j {jobs} URL DIR", [*meta_argv(), "clone", "-j", str(jobs), meta_url, str(dest)],
                cwd=root, before=clean),
        Command(f"git clone URL DIR, then xargs -P {jobs} git clone",
                ["sh", "-c", f"git clone -q {meta_url} {dest} && xargs -P {jobs} -n 2 git clone -q < {pairs}"],
                cwd=root, before=clean),
    ]
    timings = measure(commands, runs)
    clean()
    report.timing_rows("clone", timings)
    report.compare("clone", "meta clone / xargs -P 4 git clone", timings[0], timings[1], 1.2)


def bench_help(report: Report, runs: int) -> None:
    report.line("4. start-up")
    commands = [
        Command("meta --help", [*meta_argv(), "--help"]),
        Command('python -c "import click"', [sys.executable, "-c", "import click"]),
    ]
    timings = measure(commands, max(runs, 10))
    report.timing_rows("help", timings)
    report.compare("help", "meta --help / python -c 'import click'", timings[0], timings[1], 2.0)


def bench_memory(report: Report, root: Path, count: int, jobs: int) -> None:
    report.line(f'5. peak memory of meta exec -j {jobs} "git status --short" over {count} repos')
    t0 = time.perf_counter()
    ws = fleet.generate(root / f"fleet-{count}", count)
    report.line(f"    (generated {count} repos in {time.perf_counter() - t0:.1f}s)")
    wrapper = HERE / "peak_rss.py"
    out = root / "memory.json"
    args = ["-C", str(ws), "exec", "-j", str(jobs), "git status --short"]
    subprocess.run([sys.executable, str(wrapper), "self", str(out), "--", *args], check=True, cwd=ws)
    own = json.loads(out.read_text())
    subprocess.run([sys.executable, str(wrapper), "tree", str(out), "--", *meta_argv(), *args], check=True, cwd=ws)
    tree = json.loads(out.read_text())
    report.memory = {"repos": count, "self": own, "tree": tree}
    if own["exit_code"] != 0 or tree["exit_code"] != 0:
        report.notes.append(f"memory run exit codes: {own['exit_code']}, {tree['exit_code']}")
    peak = own["self_peak_rss_kib"] / MIB
    rows = [
        ("meta's own Python process: peak RSS (RUSAGE_SELF, fresh process)", peak),
        ("largest single process of the tree (RUSAGE_CHILDREN of a wrapper)",
         tree["largest_process_peak_rss_kib"] / MIB),
        ("whole tree, meta + the sh/git it runs: summed RSS, 10 ms samples", tree["tree_sampled_peak_rss_kib"] / MIB),
    ]
    for label, mib in rows:
        report.line(f"    {label:<66} {mib:7.1f} MiB")
    report.line(f"    (the meta run took {own['seconds']:.2f}s; Linux charges a forked child the parent's pages, "
                "so the largest-process figure is at least meta's own)")
    report.ratio("memory", "meta exec peak RSS of the meta process", round(peak, 1), 120, target="< 120",
                 unit="Mi")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=500, help="fleet size for the timings (default 500)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command; medians (default 5)")
    parser.add_argument("--memory-repos", type=int, default=2000, help="fleet size for the memory run (default 2000)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="make the fleets in DIR (must not exist) and keep them")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--json", action="store_true", help="also write the results to bench/results/")
    opts = parser.parse_args()
    sections = [s.strip() for s in opts.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")

    jobs = cores()
    if opts.keep:
        opts.keep.mkdir(parents=True)
        root = opts.keep.resolve()
    else:
        root = Path(tempfile.mkdtemp(prefix="metarepo-bench-"))
    report = Report()
    load_before = load_average()
    try:
        report.line(f"metarepo bench: {opts.repos} repos, {opts.runs} timed runs per command (medians, after one "
                    f"warm-up), {jobs} cores")
        report.line(f"meta runs with -j {jobs} (= xargs -P {jobs}; clone: -j 4 = xargs -P 4); all output to /dev/null")
        report.line(f"load average at start: {' '.join(f'{x:.2f}' for x in load_before)}")
        report.line(f"fleet in {root}")
        report.line(f"byte-compiled {compile_metarepo()} (as pip install does)")
        note = autogroup_note()
        if note:
            report.notes.append(note)
        ws = paths_file = None
        if {"exec", "status", "clone"} & set(sections):
            t0 = time.perf_counter()
            ws = fleet.generate(root / f"fleet-{opts.repos}", opts.repos)
            paths_file = root / "paths.txt"
            paths_file.write_text("".join(f"{p}\n" for p in fleet.project_paths(ws, opts.repos)))
            report.line(f"generated {opts.repos} repos in {time.perf_counter() - t0:.1f}s")
        npm = peers.npm_meta(log=report.line) if "exec" in sections else None
        gita = peers.gita(root / "gita-config", log=report.line) if "status" in sections else None
        for peer in (npm, gita):
            if peer is not None and not peer.ok:
                report.line(f"peer {peer.name} unavailable: {peer.problem}; its ratios are skipped")
        if gita is not None and gita.ok:
            peers.register_with_gita(gita, fleet.project_paths(ws, opts.repos))
        report.line()
        if "exec" in sections:
            bench_exec(report, ws, paths_file, jobs, opts.runs, npm)
        if "status" in sections:
            bench_status(report, ws, paths_file, jobs, opts.runs, gita)
        if "clone" in sections:
            bench_clone(report, root / f"fleet-{opts.repos}", opts.repos, opts.runs)
        if "help" in sections:
            bench_help(report, opts.runs)
        if "memory" in sections:
            bench_memory(report, root, opts.memory_repos, jobs)
        load_after = load_average()
        report.line()
        report.line(f"load average at end: {' '.join(f'{x:.2f}' for x in load_after)}")
        passed = sum(1 for r in report.ratios if r.passed)
        missed = [r.name for r in report.ratios if r.passed is False]
        skipped = [r.name for r in report.ratios if r.passed is None]
        report.line(f"{passed} PASS, {len(missed)} MISS" + (f" ({'; '.join(missed)})" if missed else "")
                    + (f", {len(skipped)} skipped" if skipped else ""))
        for note in report.notes:
            report.line(f"note: {note}")
        if opts.json:
            results = HERE / "results"
            results.mkdir(exist_ok=True)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            file = results / f"bench-{stamp}.json"
            file.write_text(json.dumps({
                "when": stamp, "machine": platform.platform(), "python": platform.python_version(),
                "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
                "cores": jobs, "jobs": jobs, "repos": opts.repos, "runs": opts.runs,
                "load_average": {"start": load_before, "end": load_after},
                "timings": {s: [t.as_json() for t in ts] for s, ts in report.timings.items()},
                "ratios": [r.as_json() for r in report.ratios],
                "memory": report.memory,
                "notes": report.notes,
            }, indent=2) + "\n")
            report.line(f"results written to {file}")
    finally:
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
