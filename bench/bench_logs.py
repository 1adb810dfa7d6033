#!/usr/bin/env python3
"""Benchmark: `meta logs` against `docker service logs` for each service in parallel, piped into `sort`.

    python bench/bench_logs.py [--services 20] [--lines 10000] [--runs 5]

It starts the test suite's private engine, registry and single-node swarm
(``running_engine()``, as ``bench_images.py`` does; stopped at the end),
creates SERVICES services from a FROM scratch busybox image, each printing
LINES lines on start, waits until every line is logged, then times, as
fresh processes in interleaved rounds after one warm-up each (medians):

- ``meta logs staging -t``: every service's lines merged in time order;
- ``for s in SERVICES; do docker service logs --timestamps $s & done | sort``:
  the same lines, in the same order, from the docker CLI.

Both print every line with its time; both write to /dev/null. Before timing,
it checks that the two give the same lines in the same order. Target: meta
within 1.5x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "examples"), str(ROOT / "bench")]

from bench_images import META, compile_metarepo, load, verdict  # noqa: E402
from measure import Command, measure  # noqa: E402

TARGET = 1.5
PEER = 'for s in "$@"; do docker service logs --timestamps "$s" & done | sort'


def make_services(client, engine, base: Path, services: int, lines: int) -> list[str]:
    folder = base / "image"
    folder.mkdir(parents=True)
    shutil.copy2(engine.busybox, folder / "busybox")
    (folder / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        'ENTRYPOINT ["/bin/busybox", "sh", "-c", "/bin/busybox seq 1 $LINES | /bin/busybox sed \\"s/^/$NAME line /\\";'
        ' exec /bin/busybox sleep 2147483647"]\n')
    image = f"{engine.registry}/bench/chatty:1"
    client.images.build(path=str(folder), tag=image)
    client.images.push(image)
    names = [f"chat{i:02d}" for i in range(services)]
    for name in names:
        client.services.create(image, name=name, env=[f"LINES={lines}", f"NAME={name}"],
                               labels={"io.metarepo.project": f"services/{name}"})
    deadline = time.monotonic() + 300
    for name in names:  # every line logged: the container's last line is there
        while True:
            tasks = client.api.tasks(filters={"service": name})
            container = next((((t.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")
                              for t in tasks), None)
            if container and f"{name} line {lines}\n".encode() in client.api.logs(container, tail=1):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"bench_logs: {name} did not print its {lines} lines in time")
            time.sleep(0.5)
    return names


def meta_repo(base: Path, names: list[str]) -> Path:
    root = base / "meta"
    root.mkdir()
    (root / ".meta").write_text(json.dumps({
        "projects": {f"services/{n}": f"file:///nonexistent/{n}.git" for n in names},
        "metarepo": {"environments": {"staging": {"target": "swarm"}}}}, indent=2) + "\n")
    return root


def same_lines(root: Path, names: list[str], environment: dict) -> int:
    """Both sides' lines as (time, service, text), checked equal, in order; returns how many."""
    meta = subprocess.run([*META, "logs", "staging", "-t"], cwd=root, env=environment, capture_output=True,
                          text=True, check=True).stdout.splitlines()
    peer = subprocess.run(["sh", "-c", PEER, "sh", *names], env=environment, capture_output=True, text=True,
                          check=True).stdout.splitlines()

    def meta_line(line: str) -> tuple[str, str, str]:
        stamp, rest = line.split(" ", 1)
        service, _, text = rest.partition(" | ")
        return stamp, service.strip(), text

    def peer_line(line: str) -> tuple[str, str, str]:
        stamp, rest = line.split(" ", 1)
        task, _, text = rest.partition(" | ")
        return stamp, task.split(".", 1)[0], text

    ours, theirs = [meta_line(l) for l in meta], [peer_line(l) for l in peer]
    if [(s, t) for s, _, t in ours] != [(s, t) for s, _, t in theirs]:
        raise SystemExit(f"bench_logs: meta logs and docker service logs | sort differ "
                         f"({len(ours)} and {len(theirs)} lines)")
    if sorted(ours) != sorted(theirs):
        raise SystemExit("bench_logs: the same lines, but not from the same services")
    return len(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20, help="services (default 20)")
    parser.add_argument("--lines", type=int, default=10_000, help="lines each service prints (default 10000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per side (default 5)")
    args = parser.parse_args()

    import docker

    from tests.images.engine import missing, running_engine

    why = missing()
    if why:
        sys.exit(f"bench_logs: cannot run: {why}")
    base = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    print(f"bench_logs: load average before: {load()} ({os.cpu_count()} cores)", flush=True)
    print(f"byte-compiled {compile_metarepo()} (as pip install does); meta is {' '.join(META)}", flush=True)
    try:
        with running_engine() as engine:
            environment = {**os.environ, **engine.env}
            client = docker.DockerClient(base_url=engine.host, timeout=120)
            versions = subprocess.run(["docker", "version", "--format", "{{.Client.Version}} / {{.Server.Version}}"],
                                      env=environment, capture_output=True, text=True).stdout.strip()
            print(f"docker CLI / engine: {versions}", flush=True)
            names = make_services(client, engine, base, args.services, args.lines)
            root = meta_repo(base, names)
            total = same_lines(root, names, environment)
            print(f"{args.services} services, {total} lines: meta logs and the docker CLI print the same lines "
                  "in the same order", flush=True)
            meta, peer = measure([
                Command("meta logs staging -t", [*META, "logs", "staging", "-t"], cwd=root, env=engine.env),
                Command("docker service logs ... | sort", ["sh", "-c", PEER, "sh", *names], env=engine.env),
            ], args.runs)
            client.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    ratio = meta.median / peer.median
    print(f"\n{args.services} services x {args.lines} lines, median of {args.runs} (load {load()})")
    print(f"   docker service logs (each, in parallel) | sort  {peer.median:6.2f} s   cpu {peer.cpu_median:5.2f} s"
          f"   runs: {' '.join(f'{s:.2f}' for s in peer.seconds)}")
    print(f"   meta logs staging -t                           {meta.median:6.2f} s   cpu {meta.cpu_median:5.2f} s"
          f"   runs: {' '.join(f'{s:.2f}' for s in meta.seconds)}")
    print(f"   ratio meta / docker: {ratio:.2f}  (target <= {TARGET})  {verdict(ratio, TARGET)}")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
