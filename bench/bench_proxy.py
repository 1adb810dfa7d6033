#!/usr/bin/env python3
"""Benchmark: requests through the proxy during a `meta rollout`, and the rollout's overhead over Swarm's own.

    python bench/bench_proxy.py [--requests 2000] [--services 2] [--replicas 3] [--runs 3] [--keep DIR]

It starts the test suite's three-node swarm in network namespaces
(tests/netns: three engines, a registry, overlay networks; run as root),
builds a routed fleet FROM the busybox web image, rolls it out with `meta
rollout` into a proxied environment (dnsrr endpoints, the `edge` overlay)
and puts in front of it an HAProxy swarm service running the config `meta
proxy render` writes. Requests come from the switch namespace, outside
every node, one after another on a fresh connection each.

1. Zero downtime. A bounded loop of at least REQUESTS requests through the
   proxy: with no update running; during a rolling update of one service
   (start-first, one task at a time); during an update whose release fails
   its health check and is rolled back; and, to show what the rendered
   config's timings are for, the same rolling update behind a proxy
   rendered with `check_interval: 5` and `retries: 0` (it re-resolves
   tasks.<service> and checks each task every 5 s, and retries nothing).
   For each: requests sent, failed, p50 and p99 latency.
2. Overhead. SERVICES routed services moved between two pushed images,
   alternating `meta rollout staging` and `docker service update --image
   REF@DIGEST --detach=false` with the same update settings, service by
   service; medians of RUNS, with Swarm's own time (UpdateStatus StartedAt
   to CompletedAt) shown for both. Target: within 1.10x.
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
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "examples"), str(ROOT / "bench")]

from bench_images import META, ROLLOUT_TARGET, _when, compile_metarepo, load, median, verdict  # noqa: E402

PROXY_PORT = 8090


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")


def loop_stats(replies) -> dict:
    seconds = [r.seconds for r in replies]
    return {"sent": len(replies), "failed": sum(not r.ok for r in replies),
            "p50_ms": percentile(seconds, 0.50) * 1000, "p99_ms": percentile(seconds, 0.99) * 1000,
            "seconds": (replies[-1].at + replies[-1].seconds - replies[0].at) if replies else 0.0,
            "errors": sorted({r.error or str(r.status) for r in replies if not r.ok})[:3]}


class Bench:
    def __init__(self, args, cluster, images, base: Path):
        from tests.netns.fleet import make_proxied_fleet

        self.args, self.cluster, self.images, self.base = args, cluster, images, base
        self.client = cluster.client()
        self.names = [f"svc{i}" for i in range(args.services)]
        routes = {name: {"path": "/" if i == 0 else f"/{name}", "strip": i > 0} for i, name in enumerate(self.names)}
        self.root = make_proxied_fleet(base / "fleet", cluster, images.httpd, routes, replicas=args.replicas,
                                       monitor=args.monitor)
        self.url = f"http://{cluster.manager.node.address}:{PROXY_PORT}/"
        self.release = {name: 1 for name in self.names}

    def meta(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        from tests.netns.fleet import meta

        return meta(self.cluster, *args, cwd=self.root, timeout=timeout)

    def setup(self) -> None:
        from tests.netns.fleet import EDGE, build
        from tests.netns.probes import wait_for_replies
        from tests.netns.services import overlay_network, wait_running

        overlay_network(self.client, EDGE)
        build(self.cluster, self.root)
        proc = self.meta("rollout", "staging")
        assert proc.returncode == 0, proc.stderr
        self.proxy(retries=3)
        wait_for_replies(self.cluster.switch, self.url, lambda replies: len(replies) >= 20, what="the proxy")
        for name in self.names:
            wait_running(self.client, name, self.args.replicas)

    def proxy(self, *, retries: int, check_interval: float = 1) -> None:
        """The edge HAProxy, (re)started with the config `meta proxy render` writes with these settings."""
        from tests.netns.fleet import EDGE
        from tests.netns.services import proxy_service, wait_running

        manifest = json.loads((self.root / ".meta").read_text())
        manifest["metarepo"]["environments"]["staging"]["proxy"].update(retries=retries, check_interval=check_interval)
        (self.root / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
        rendered = self.meta("proxy", "render", "staging")
        assert rendered.returncode == 0, rendered.stderr
        try:
            self.client.services.get("edge-proxy").remove()
            while any(s.name == "edge-proxy" for s in self.client.services.list()):
                time.sleep(0.2)
            time.sleep(2)  # its host-mode port freed
        except Exception:  # noqa: BLE001 - the first time there is none
            pass
        proxy_service(self.client, "edge-proxy", self.images.haproxy, network=EDGE, backend=self.names[0],
                      published=PROXY_PORT, config=rendered.stdout)
        wait_running(self.client, "edge-proxy", 1)

    def new_release(self, name: str, *, broken: bool = False) -> None:
        from tests.netns.fleet import build, release

        self.release[name] += 1
        release(self.root, name, self.release[name], self.images.httpd, broken=broken)
        build(self.cluster, self.root, name)

    def loop(self, during=None) -> tuple[dict, subprocess.CompletedProcess | None]:
        """At least REQUESTS requests through the proxy, while ``during()`` runs (if given)."""
        from tests.netns.probes import probing

        proc = None
        with probing(self.cluster.switch, self.url, pause=0, timeout=5) as probe:
            while len(probe.replies()) < 20:
                time.sleep(0.05)
            if during is not None:
                proc = during()
            while len(probe.replies()) < self.args.requests:
                time.sleep(0.1)
        return loop_stats(probe.replies()), proc

    def rollout(self, name: str):
        return lambda: self.meta("rollout", "staging", "--include-only", f"services/{name}", "--json")


def bench_downtime(bench: Bench) -> dict:
    web = bench.names[0]
    found = {}
    found["no update running"], _ = bench.loop()
    bench.new_release(web)
    found["rolling update"], proc = bench.loop(bench.rollout(web))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bench.new_release(web, broken=True)
    found["failed update, rolled back"], proc = bench.loop(bench.rollout(web))
    assert proc.returncode == 1, proc.stdout
    bench.new_release(web)  # a good one again, behind a proxy that notices tasks going only every 5 s
    bench.proxy(retries=0, check_interval=5)
    found["update, proxy checks every 5 s"], proc = bench.loop(bench.rollout(web))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bench.proxy(retries=3, check_interval=1)
    return found


def bench_overhead(bench: Bench) -> dict:
    """Every service between two pushed images: meta rollout against docker service update, alternately."""
    from tests.netns.fleet import git

    def checkout(branch: str) -> None:
        for name in bench.names:
            git("checkout", "-q", branch, cwd=bench.root / "services" / name)

    for name in bench.names:  # "one" is what runs now, "two" the next release; both pushed
        git("branch", "-f", "one", "HEAD", cwd=bench.root / "services" / name)
        bench.new_release(name)
        git("branch", "-f", "two", "HEAD", cwd=bench.root / "services" / name)
    pinned = {}
    for branch in ("one", "two"):
        checkout(branch)
        built = json.loads(bench.meta("build", "--push", "--json").stdout)
        pinned[branch] = {Path(i["project"]).name: f"{i['tags'][0]}@{i['digest']}" for i in built["images"]}
    spec = bench.client.api.inspect_service(bench.names[0])["Spec"]
    monitor = spec["UpdateConfig"]["Monitor"] / 1e9
    flags = ["--update-parallelism", "1", "--update-delay", "0s", "--update-monitor", f"{monitor:g}s",
             "--update-failure-action", "rollback", "--update-order", "start-first",
             "--update-max-failure-ratio", "0", "--detach=false", "--quiet"]
    env = {**os.environ, **bench.cluster.env}

    def swarm_seconds() -> float:
        total = 0.0
        for name in bench.names:
            status = bench.client.api.inspect_service(name).get("UpdateStatus") or {}
            assert status.get("State") == "completed", (name, status)
            total += _when(status["CompletedAt"]) - _when(status["StartedAt"])
        return total

    result = {"meta": [], "docker": [], "meta_swarm": [], "docker_swarm": [], "monitor": monitor}
    state = "one"
    for _ in range(bench.args.runs):
        other = "two" if state == "one" else "one"
        checkout(other)  # meta: every service to what HEAD now says
        t0 = time.perf_counter()
        proc = bench.meta("rollout", "staging", "--json")
        result["meta"].append(time.perf_counter() - t0)
        assert proc.returncode == 0 and json.loads(proc.stdout)["ok"], proc.stdout + proc.stderr
        result["meta_swarm"].append(swarm_seconds())
        state, other = other, state
        t0 = time.perf_counter()  # docker CLI: every service back, one after another
        for name in bench.names:
            subprocess.run(["docker", "service", "update", "--image", pinned[other][name], *flags, name], env=env,
                           check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result["docker"].append(time.perf_counter() - t0)
        result["docker_swarm"].append(swarm_seconds())
        state = other
        checkout(state)
    return result


def report_downtime(args, found: dict) -> None:
    print(f"\n1. zero downtime: requests through HAProxy (the config `meta proxy render` writes), {args.replicas} "
          f"tasks of one service across 3 nodes, start-first, one task at a time (load {load()})")
    print(f"   {'':34} {'sent':>6} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8} {'seconds':>8}")
    for what, stats in found.items():
        errors = f"   {', '.join(stats['errors'])}" if stats["errors"] else ""
        print(f"   {what:34} {stats['sent']:6d} {stats['failed']:7d} {stats['p50_ms']:8.1f} {stats['p99_ms']:8.1f} "
              f"{stats['seconds']:8.1f}{errors}")


def report_overhead(args, found: dict) -> None:
    meta, docker_cli = median(found["meta"]), median(found["docker"])
    ratio = meta / docker_cli
    swarm_meta, swarm_docker = median(found["meta_swarm"]), median(found["docker_swarm"])
    print(f"\n2. rollout of {args.services} routed services ({args.replicas} tasks each, proxied, dnsrr), one at a "
          f"time, monitor {found['monitor']:g}s, median of {args.runs} (load {load()})")
    print(f"   docker service update x{args.services}  {docker_cli:7.2f} s   runs: "
          f"{' '.join(f'{v:.2f}' for v in found['docker'])}   Swarm's own: {swarm_docker:.2f} s "
          f"(overhead {docker_cli - swarm_docker:+.2f} s)")
    print(f"   meta rollout staging      {meta:7.2f} s   runs: {' '.join(f'{v:.2f}' for v in found['meta'])}   "
          f"Swarm's own: {swarm_meta:.2f} s (overhead {meta - swarm_meta:+.2f} s)")
    print(f"   ratio meta / docker CLI: {ratio:.3f}  (target <= {ROLLOUT_TARGET})  {verdict(ratio, ROLLOUT_TARGET)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per loop, at least (default 2000)")
    parser.add_argument("--services", type=int, default=2, help="routed services (default 2)")
    parser.add_argument("--replicas", type=int, default=3, help="tasks per service (default 3)")
    parser.add_argument("--monitor", type=float, default=1, help="the environment's update.monitor (default 1)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per side, overhead (default 3)")
    parser.add_argument("--only", choices=("downtime", "overhead"), help="run one half only")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="make the fleet in DIR and keep it")
    args = parser.parse_args()

    from tests.netns.cluster import running_cluster
    from tests.netns.images import push_test_images
    from tests.netns.prerequisites import missing

    why = missing()
    if why:
        sys.exit(f"bench_proxy: cannot run: {why}")
    parent = args.keep or Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="bench-proxy-", dir=parent))
    print(f"bench_proxy: load average before: {load()} ({os.cpu_count()} cores)", flush=True)
    print(f"byte-compiled {compile_metarepo()} (as pip install does); meta is {' '.join(META)}", flush=True)
    try:
        with running_cluster(3, subnet=f"10.231.{200 + uuid.uuid4().int % 50}") as cluster:
            client = cluster.client()
            images = push_test_images(client, cluster.registry, cluster.busybox, base / "images")
            client.close()
            bench = Bench(args, cluster, images, base)
            bench.setup()
            if args.only != "overhead":
                report_downtime(args, bench_downtime(bench))
            if args.only != "downtime":
                report_overhead(args, bench_overhead(bench))
            bench.client.close()
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
