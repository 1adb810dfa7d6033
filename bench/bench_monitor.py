#!/usr/bin/env python3
"""Benchmark: an analysed `meta rollout` against `docker service update`, with the analysis time apart.

    python bench/bench_monitor.py [--services 3] [--runs 3] [--interval 1] [--count 3] [--initial-delay 1]

It starts the test suite's private dockerd, registry and single-node swarm
and a real Prometheus (``running_prometheus()``, on 127.0.0.1), makes the
same fleet as bench_images.py's rollout half (SERVICES services with a
quick HEALTHCHECK, two pushed images each), and gives its staging
environment one analysis check against that Prometheus (``vector(0)``,
which always answers: this measures the gate, not a service's metrics),
``count`` measurements every ``interval`` seconds after ``initial_delay``,
and ``alerts: true`` against a real Alertmanager. Then, alternating sides
and taking medians as bench_images.py does: ``meta rollout staging`` moving
every service to its other image, against ``docker service update --image``
with the same update settings, one service after another.

It prints the analysis time (each service's last measurement, from the
rollout's own JSON) against what the settings call for (``initial_delay +
(count - 1) x interval`` per service: Argo's schedule, the first
measurement right after ``initial_delay``), and the rollout's own time with
the analysis taken out against the docker CLI's. Targets: the rollout
without its analysis within 1.10x of docker service update; each
service's analysis within 1 s of its configured time.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "examples")]

import bench_images as images  # noqa: E402

ROLLOUT_TARGET, ANALYSIS_SLACK = images.ROLLOUT_TARGET, 1.0


def configure_analysis(ws: Path, args, prometheus: str, alertmanager: str) -> float:
    """Put the check on the staging environment (committed); return one service's configured analysis time."""
    manifest = json.loads((ws / ".meta").read_text())
    manifest["metarepo"]["environments"]["staging"].update({
        "monitoring": {"prometheus": prometheus, "alertmanager": alertmanager, "timeout": 5},
        "analysis": [{"name": "bench", "query": "vector(0)",
                      "success": "== 0", "initial_delay": args.initial_delay, "interval": args.interval,
                      "count": args.count}],
        "alerts": True})
    (ws / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
    images.sh("git", "commit", "-qam", "bench: analysis", cwd=ws)
    return args.initial_delay + (args.count - 1) * args.interval


def bench(args, engine, environment: dict, base: Path, prometheus: str, alertmanager: str) -> dict:
    import docker

    ws, names, pinned = images.make_rollout_fleet(args, engine, environment, base)
    created = json.loads(images.capture(*images.META, "rollout", "staging", "--json", cwd=ws, env=environment))
    assert created["ok"], created
    configured = configure_analysis(ws, args, prometheus, alertmanager)

    client = docker.DockerClient(base_url=engine.host, timeout=120)
    monitor = client.api.inspect_service(names[0])["Spec"]["UpdateConfig"]["Monitor"] / 1e9
    flags = ["--update-parallelism", "1", "--update-delay", "0s", "--update-monitor", f"{monitor:g}s",
             "--update-failure-action", "rollback", "--update-order", "start-first",
             "--update-max-failure-ratio", "0", "--detach=false", "--quiet"]
    found = {"meta": [], "docker": [], "analysis": [], "per_service": [], "configured": configured,
             "monitor": monitor,
             "measurements": args.count + len({0.0, *(args.initial_delay + n * args.interval for n in range(args.count))})}
    state = "one"
    for _ in range(args.runs):
        other = "two" if state == "one" else "one"
        images.checkout(ws, names, other)
        out = base / "last.json"
        t0 = time.perf_counter()
        with out.open("w") as stdout:
            subprocess.run([*images.META, "rollout", "staging", "--json"], cwd=ws, env=environment, check=True,
                           stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.DEVNULL)
        found["meta"].append(time.perf_counter() - t0)
        doc = json.loads(out.read_text())
        assert doc["ok"] and {s["state"] for s in doc["services"]} == {"deployed"}, doc
        # each service's analysis ran from its convergence to its last measurement (query time aside, ms)
        per = [max(m["at"] for m in s["measurements"]) for s in doc["services"]]
        assert all(len(s["measurements"]) == found["measurements"] for s in doc["services"]), doc
        found["per_service"].extend(per)
        found["analysis"].append(sum(per))
        state = other

        other = "two" if state == "one" else "one"
        t0 = time.perf_counter()
        for name in names:
            images.sh("docker", "service", "update", "--image", pinned[other][name], *flags, name, env=environment)
        found["docker"].append(time.perf_counter() - t0)
        state = other
    client.close()
    return found


def report(args, found: dict) -> None:
    median = images.median
    meta, docker_cli, analysis = median(found["meta"]), median(found["docker"]), median(found["analysis"])
    without = [m - a for m, a in zip(found["meta"], found["analysis"])]
    ratio = median(without) / docker_cli
    late = max(found["per_service"]) - found["configured"]
    print(f"\nanalysed rollout of {args.services} services, monitor {found['monitor']:g}s, check x{args.count} "
          f"every {args.interval:g}s after {args.initial_delay:g}s + alerts, median of {args.runs} "
          f"(load {images.load()})")
    print(f"   docker service update x{args.services}   {docker_cli:7.2f} s   runs: {images._runs(found['docker'])}")
    print(f"   meta rollout staging         {meta:7.2f} s   runs: {images._runs(found['meta'])}")
    print(f"     of which analysis          {analysis:7.2f} s   ({args.services} x {found['configured']:g} s "
          f"configured; per service {min(found['per_service']):.2f}-{max(found['per_service']):.2f} s, "
          f"{found['measurements']} measurements each)")
    print(f"     without the analysis       {median(without):7.2f} s   runs: {images._runs(without)}")
    print(f"   ratio meta without analysis / docker CLI: {ratio:.3f}  (target <= {ROLLOUT_TARGET})  "
          f"{images.verdict(ratio, ROLLOUT_TARGET)}")
    print(f"   analysis beyond its configured time: at most {late:+.2f} s per service  (target <= "
          f"{ANALYSIS_SLACK:g} s)  {'PASS' if late <= ANALYSIS_SLACK else 'MISS'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=3, help="services to roll out (default 3)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per side (default 3)")
    parser.add_argument("--monitor", type=float, default=2, help="the environment's update.monitor (default 2)")
    parser.add_argument("--interval", type=float, default=1, help="the check's interval, s (default 1)")
    parser.add_argument("--count", type=int, default=3, help="the check's count (default 3)")
    parser.add_argument("--initial-delay", type=float, default=1, help="the check's initial_delay, s (default 1)")
    args = parser.parse_args()

    from tests.images.engine import missing, running_engine
    from tests.servers.alertmanager import running_alertmanager
    from tests.servers.process import missing as missing_server
    from tests.servers.prometheus import PACKAGES, running_prometheus

    why = missing() or missing_server({**PACKAGES, "prometheus-alertmanager": "prometheus-alertmanager"})
    if why:
        sys.exit(f"bench_monitor: cannot run: {why}")
    base = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    (base / "gitconfig").write_text("[init]\n\tdefaultBranch = master\n[protocol \"file\"]\n\tallow = always\n")
    os.environ.update({"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
                       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
                       "GIT_CONFIG_GLOBAL": str(base / "gitconfig")})
    os.environ.pop("META_JOBS", None)
    print(f"bench_monitor: load average before: {images.load()} ({os.cpu_count()} cores)", flush=True)
    print(f"byte-compiled {images.compile_metarepo()}; meta is {shlex.join(images.META)}", flush=True)
    try:
        with running_engine() as engine, running_prometheus() as prometheus, running_alertmanager() as manager:
            environment = {**os.environ, **engine.env}
            report(args, bench(args, engine, environment, base, prometheus.url, manager.url))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"load average after: {images.load()}")


if __name__ == "__main__":
    main()
