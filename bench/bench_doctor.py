#!/usr/bin/env python3
"""Benchmark: `meta doctor` against `meta status` over the same generated fleet (target: within 2x).

    python bench/bench_doctor.py [--repos 2000] [--runs 5] [--keep DIR] [--json]

Generates (bench/fleet.py) REPOS service repositories that look like a real
fleet's: each has a Dockerfile (with a HEALTHCHECK, a USER, a pinned base;
some of each missing or loose, so checks fail as well as pass), an
entrypoint script, a contracts.yaml in which service i publishes `evt<i>`
and consumes `evt<i-1>`, and a GitHub Actions pipeline written by `meta ci
generate` before timing; the manifest gives most of them tags, a route,
metrics and SLOs. No custom checks. Then, as fresh processes, one untimed
warm-up each and RUNS interleaved rounds (bench/measure.py):

- `meta status` (one `git status` per repository);
- `meta doctor` (every built-in check, the contracts and pipeline caches warm,
  as after any earlier run);

and prints the medians and the ratio doctor/status with PASS or MISS, and,
apart, one `meta doctor` with no cache at all (its first run on a fleet).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fleet  # noqa: E402
from measure import Command, load_average, measure  # noqa: E402

TARGET = 2.0


def service_files(index: int) -> dict[str, str]:
    """A service's Dockerfile, entrypoint and contracts; every few services get one thing wrong."""
    base = "python:latest" if index % 7 == 3 else "python:3.12-slim"
    user = "" if index % 5 == 4 else "USER 10001\n"
    health = "" if index % 11 == 6 else 'HEALTHCHECK --interval=5s CMD ["/app/health"]\n'
    dockerfile = (f"FROM {base}\nWORKDIR /app\nCOPY start.sh /app/start.sh\nCOPY src/ /app/src/\n{user}{health}"
                  'ENTRYPOINT ["/app/start.sh"]\n')
    log = ">> /var/log/svc.log 2>&1" if index % 13 == 9 else ""
    start = f"#!/bin/sh\n# svc{index:04d}: start the service\nexec python -m src.main {log}\n"
    schema = ('{"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, '
              f'"n{index % 17}": {{"type": "integer"}}}}}}')
    contracts = f"publishes:\n  evt{index}:\n    schema: {schema}\n"
    if index:
        contracts += f"consumes:\n  evt{index - 1}:\n    schema: {schema.replace(str(index % 17), str((index - 1) % 17))}\n"
    return {"Dockerfile": dockerfile, "start.sh": start, "contracts.yaml": contracts}


def manifest_settings(count: int) -> dict:
    projects = {}
    for i in range(count):
        own: dict = {}
        if i % 9 != 8:
            own["tags"] = ["backend" if i % 2 else "edge"]
        if i % 4 != 3:
            own["route"] = {"hosts": [f"svc{i:04d}.example.test"], "path": "/", "port": 8080}
        if i % 6 != 5:
            own["metrics"] = {"port": 9100, "path": "/metrics"}
            own["slo"] = {"error_ratio": 0.01, "latency_p99_ms": 500}
        if own:
            projects[f"services/svc{i:04d}"] = own
    return {"defaults": {"branch": fleet.BRANCH, "ci": "github", "test": "make test",
                         "registry": "registry.example.test/acme"},
            "projects": projects,
            "environments": {"staging": {"target": "swarm", "logging": {"driver": "syslog"}}}}


def meta_argv() -> list[str]:
    script = Path(sys.executable).with_name("meta")
    return [str(script)] if script.exists() else [sys.executable, "-m", "metarepo"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="generate the fleet here and keep it (reused if it is there)")
    parser.add_argument("--json", action="store_true", help="also print the numbers as one JSON document")
    args = parser.parse_args()
    meta = meta_argv()
    with tempfile.TemporaryDirectory(prefix="bench-doctor-") as tmp:
        root = (args.keep or Path(tmp)) / f"doctor-{args.repos}"
        ws = root / "ws"
        if not ws.exists():
            t0 = time.perf_counter()
            fleet.generate(root, args.repos, files=service_files, settings=manifest_settings(args.repos))
            subprocess.run([*meta, "ci", "generate"], cwd=ws, check=True, stdout=subprocess.DEVNULL)
            print(f"fleet: {args.repos} repositories generated in {time.perf_counter() - t0:.1f}s")
        jobs = str(len(os.sched_getaffinity(0)))
        state = ws / ".metarepo"

        def forget() -> None:
            for name in ("contracts-cache.json", "ci-validated.json"):
                (state / name).unlink(missing_ok=True)

        cold = measure([Command("meta doctor (nothing cached)", [*meta, "doctor", "-j", jobs], ws, before=forget)],
                       1, warmup=False)[0]
        load = load_average()
        status, doctor = measure([Command("meta status", [*meta, "status", "-j", jobs], ws),
                                  Command("meta doctor", [*meta, "doctor", "-j", jobs], ws)], args.runs)
        ratio = doctor.median / status.median
        verdict = "PASS" if ratio <= TARGET else "MISS"
        print(f"    {status.label:<32} {status.median:7.2f}s   (cpu {status.cpu_median:6.2f}s)")
        print(f"    {doctor.label:<32} {doctor.median:7.2f}s   (cpu {doctor.cpu_median:6.2f}s)")
        print(f"    {'doctor / status':<32} {ratio:7.2f}x  target <= {TARGET:g}  {verdict}")
        print(f"    {cold.label:<32} {cold.median:7.2f}s   (its first run on a fleet; not part of the target)")
        print(f"load average: before {' '.join(f'{x:.2f}' for x in load)}, "
              f"after {' '.join(f'{x:.2f}' for x in load_average())}")
        if args.json:
            print(json.dumps({"repos": args.repos, "status": status.as_json(), "doctor": doctor.as_json(),
                              "cold": cold.as_json(), "ratio": round(ratio, 3), "target": TARGET}))
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
