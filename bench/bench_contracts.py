#!/usr/bin/env python3
"""Benchmark: `meta contracts check` on a generated fleet, against merely parsing its contract files.

    python bench/bench_contracts.py [--services 1000] [--messages 3000] [--keep DIR]

Generates (in a temp dir) a meta repo with SERVICES service folders that
speak contracts.yaml, AsyncAPI 3 and AsyncAPI 2.6, MESSAGES messages and
about 10,000 (producer, consumer) pairs, a few of them breaking. Then it
times, each as a fresh process, (1) the baseline: read and parse every
contract file with the same YAML/JSON parser and nothing else, (2) `meta
contracts check --json` with no cache (``.metarepo/`` removed: the goal is
within 3x of parsing), (3) the same on an unchanged fleet, everything read
from ``.metarepo/contracts-cache.json`` (goal: under 0.5 s), and (4) with
one contract file changed since the last run (one file parsed again). It also prints the ratio of CPU times and the load
average: on a shared machine, wall time includes waiting for a core. Identical schema pairs are compared once (the check
caches verdicts by content hash), which is what keeps the ratio down.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

TYPES = [{"type": "string"}, {"type": "integer", "minimum": 0}, {"type": "number"}, {"type": "boolean"},
         {"type": "string", "maxLength": 64}, {"type": "array", "items": {"type": "string"}},
         {"enum": ["a", "b", "c"]}, {"type": "object", "properties": {"x": {"type": "integer"}}}]


def message_schema(rng: random.Random, index: int) -> dict:
    names = [f"f{index % 97}_{i}" for i in range(rng.randint(4, 9))]
    props = {name: dict(rng.choice(TYPES)) for name in names}
    return {"type": "object", "properties": props, "required": names[:2]}


def consumer_view(rng: random.Random, schema: dict, variant: int, breaking: bool) -> dict:
    """What a consumer declares: the producer's schema itself, or a subset of it (both compatible)."""
    if breaking:  # requires a field the producer never promises
        return {**schema, "required": [*schema["required"], "never_sent"]}
    if variant == 0:
        return schema
    keep = list(schema["properties"])[: 2 + variant]
    return {"type": "object", "properties": {k: schema["properties"][k] for k in keep},
            "required": schema["required"][:1]}


def generate(root: Path, services: int, messages: int, seed: int = 7) -> tuple[int, int]:
    rng = random.Random(seed)
    names = [f"svc{i:04d}" for i in range(services)]
    publishes: dict[str, dict] = {n: {} for n in names}
    consumes: dict[str, dict] = {n: {} for n in names}
    pairs = breaking = 0
    for m in range(messages):
        message = f"topic.m{m:05d}"
        schema = message_schema(rng, m)
        producer = names[m % services]
        publishes[producer][message] = schema
        count = 3 + (1 if rng.random() < 0.35 else 0)
        for consumer in rng.sample([n for n in names if n != producer], count):
            bad = rng.random() < 0.003
            consumes[consumer][message] = consumer_view(rng, schema, rng.randint(0, 2), bad)
            pairs += 1
            breaking += bad
    projects = {}
    for i, name in enumerate(names):
        folder = root / "services" / name
        folder.mkdir(parents=True)
        projects[f"services/{name}"] = f"https://git.example.invalid/{name}.git"
        style = i % 5
        if style < 3:
            doc = {"publishes": {k: {"schema": v} for k, v in publishes[name].items()},
                   "consumes": {k: {"schema": v} for k, v in consumes[name].items()}}
            (folder / "contracts.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        elif style == 3:
            channels, operations = {}, {}
            for role, table in (("send", publishes[name]), ("receive", consumes[name])):
                for j, (message, schema) in enumerate(table.items()):
                    cid = f"{role}{j}"
                    channels[cid] = {"address": message, "messages": {"m": {"payload": schema}}}
                    operations[f"op_{cid}"] = {"action": role, "channel": {"$ref": f"#/channels/{cid}"}}
            doc = {"asyncapi": "3.0.0", "info": {"title": name, "version": "1"}, "channels": channels,
                   "operations": operations}
            (folder / "asyncapi.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        else:
            channels = {}
            for message, schema in publishes[name].items():
                channels.setdefault(message, {})["subscribe"] = {"message": {"payload": schema}}
            for message, schema in consumes[name].items():
                channels.setdefault(message, {})["publish"] = {"message": {"payload": schema}}
            doc = {"asyncapi": "2.6.0", "info": {"title": name, "version": "1"}, "channels": channels}
            (folder / "asyncapi.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (root / ".meta").write_text(json.dumps({"projects": projects}, indent=2) + "\n")
    return pairs, breaking


BASELINE = """
import sys, yaml
from pathlib import Path
loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
count = 0
for file in sorted(Path(sys.argv[1]).glob("services/*/*.yaml")):
    yaml.load(file.read_text(encoding="utf-8"), Loader=loader)
    count += 1
print(count)
"""


def timed(argv: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall-clock seconds, CPU seconds (user + system) of the child, and the finished process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3, help="best of N runs for each side")
    parser.add_argument("--keep", type=Path, help="generate the fleet here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-contracts-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        pairs, breaking = generate(root, args.services, args.messages)
        print(f"fleet: {args.services} services, {args.messages} messages, {pairs} pairs ({breaking} breaking)")
        check = [sys.executable, "-m", "metarepo", "contracts", "check", "--json"]
        cache = root / ".metarepo"
        changed = root / "services" / "svc0001" / "contracts.yaml"
        original = changed.read_text()
        flip = [0]

        def cold() -> None:
            shutil.rmtree(cache, ignore_errors=True)

        def one_file() -> None:  # each run sees one file changed since the last run
            flip[0] += 1
            changed.write_text(original + f"x-bench: {flip[0]}\n")

        times: dict[str, list[tuple[float, float]]] = {}
        doc: dict = {}
        for _ in range(args.runs):
            for name, argv, before in (("parse only (baseline)", [sys.executable, "-c", BASELINE, str(root)], None),
                                       ("check, no cache", check, cold),
                                       ("check, unchanged fleet", check, None),
                                       ("check, one file changed", check, one_file)):
                if before:
                    before()
                seconds, cpu, proc = timed(argv, root)
                if proc.returncode not in (0, 1):
                    sys.exit(f"{name} failed: {proc.stderr.strip()}")
                if argv is check:
                    doc = json.loads(proc.stdout)
                times.setdefault(name, []).append((seconds, cpu))
        found = sum(1 for p in doc["pairs"] if not p["compatible"])
        print(f"pairs checked: {len(doc['pairs'])}, breaking found: {found}")
        base = min(t for t, _ in times["parse only (baseline)"])
        base_cpu = min(c for _, c in times["parse only (baseline)"])
        for name, runs in times.items():
            wall, cpu = min(t for t, _ in runs), min(c for _, c in runs)
            print(f"{name:26} {wall:6.2f}s wall ({wall / base:4.2f}x)   {cpu:6.2f}s cpu ({cpu / base_cpu:4.2f}x)")
        # On a shared machine wall time also counts waiting for a core; CPU time does not.
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
