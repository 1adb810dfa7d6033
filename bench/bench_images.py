#!/usr/bin/env python3
"""Benchmark: `meta build` against `xargs -P` + `docker build`, and `meta rollout` against `docker service update`.

    python bench/bench_images.py [--images 20] [--jobs N] [--runs K] [--services 5] [--keep DIR]

It starts its own engine with the test suite's ``running_engine()`` (a
private dockerd, docker-registry and single-node swarm under /tmp, stopped
at the end), then measures, each side as fresh processes, alternating the
sides and taking medians:

1. Builds. IMAGES service repos (FROM scratch, the static busybox, a small
   file unique to each service), cloned by ``meta clone``. ``meta build -j
   JOBS --no-cache`` (output to /dev/null) against the same ``docker build
   --no-cache`` commands (same context, tags and labels) run by ``xargs -P
   JOBS``. Target: within 1.3x.
2. Rollouts. SERVICES services with a quick HEALTHCHECK, created once by
   ``meta rollout``; then each run moves every service to the other of two
   pushed images: ``meta rollout staging`` against ``docker service update
   --image REF@DIGEST`` with the same update settings (parallelism 1,
   start-first, failure action rollback, the same monitor window that
   ``meta`` gave the service) run one service after another, waiting for
   convergence as the docker CLI does by default. Target: within 1.10x.
   Swarm's own time (UpdateStatus StartedAt to CompletedAt) is reported
   for both sides, so the rest is each tool's overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

_SCRIPT = Path(sys.executable).with_name("meta")
META = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "metarepo"]
BUILD_TARGET, ROLLOUT_TARGET = 1.3, 1.10


def sh(*args: str, cwd: Path | None = None, env: dict | None = None) -> None:
    subprocess.run(args, cwd=cwd, env=env, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def capture(*args: str, cwd: Path | None = None, env: dict | None = None) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench_images: {shlex.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def timed(work) -> float:
    t0 = time.perf_counter()
    work()
    return time.perf_counter() - t0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def compile_metarepo() -> str:
    """Byte-compile metarepo as ``pip install`` does for an installed package.

    An editable install under ``PYTHONDONTWRITEBYTECODE`` (set in these
    sandboxes) would otherwise compile every metarepo module from source in
    every fresh ``meta`` process, which no installed copy does.
    """
    import compileall

    import metarepo

    folder = Path(metarepo.__file__).parent
    compileall.compile_dir(str(folder), quiet=1)
    return str(folder)


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio <= target else "MISS"


# -- the fleets -----------------------------------------------------------------------------


def publish_fleet(base: Path, registry: str, sources: dict[str, dict[str, str]], busybox: Path,
                  environment: dict) -> Path:
    """Bare remotes for ``sources`` (name -> files) and a meta repo listing them, cloned by ``meta clone``."""
    from make_fleet import publish

    remotes = base / "remotes"
    remotes.mkdir(parents=True)
    projects = {}
    for name, files in sources.items():
        src = base / "src" / name
        src.mkdir(parents=True)
        for path, text in files.items():
            (src / path).write_text(text)
        shutil.copy2(busybox, src / "busybox")
        publish(src, remotes / f"{name}.git", f"{name}: first version")
        projects[f"images/{name}"] = f"file://{remotes}/{name}.git"
    meta = base / "meta-src"
    meta.mkdir()
    (meta / ".meta").write_text(json.dumps({
        "projects": projects,
        "metarepo": {"defaults": {"registry": registry}, "environments": {"staging": {"target": "swarm"}}}},
        indent=2) + "\n")
    (meta / ".gitignore").write_text("".join(f"{p}\n" for p in projects) + ".metarepo/\n")
    publish(meta, remotes / "meta.git", "bench fleet")
    ws = base / "ws"
    sh(*META, "clone", f"file://{remotes}/meta.git", str(ws), env=environment)
    return ws


# -- 1. builds --------------------------------------------------------------------------------


def bench_builds(args, engine, environment: dict, base: Path) -> dict:
    sources = {}
    for i in range(args.images):
        name = f"svc{i:02d}"
        sources[name] = {
            "Dockerfile": "FROM scratch\nCOPY busybox /bin/busybox\nCOPY stamp.txt /stamp.txt\n"
                          'ENTRYPOINT ["/bin/busybox", "sh", "-c", "cat /stamp.txt"]\n',
            "stamp.txt": f"{name} {uuid.uuid4()}\n" + f"{name} {i} payload line\n" * (50 + i),
        }
    ws = publish_fleet(base / "build", f"{engine.registry}/bench", sources, engine.busybox, environment)

    # the tags and labels meta gives each image, so that docker build gets exactly the same
    plan = json.loads(capture(*META, "build", "-j", str(args.jobs), "--no-cache", "--json", cwd=ws,
                              env=environment))
    lines = []
    for image in plan["images"]:
        assert image["status"] == "done", image
        project = ws / image["project"]
        sha = capture("git", "rev-parse", "HEAD", cwd=project).strip()
        words = ["build", "--no-cache"]
        for tag in image["tags"]:
            words += ["-t", tag]
        words += ["--label", f"org.opencontainers.image.revision={sha}", "--label",
                  f"io.metarepo.project={image['project']}", str(project)]
        lines.append(shlex.join(words))
    commands = base / "build" / "docker-build.args"
    commands.write_text("\n".join(lines) + "\n")
    # the docker build command as a user types it; which builder the CLI picks is said in the output
    docker_env = {k: v for k, v in environment.items() if k != "DOCKER_BUILDKIT"}
    probe = subprocess.run(["docker", *shlex.split(lines[0])], env=docker_env, capture_output=True, text=True)
    if "legacy builder is deprecated" in probe.stderr and "Sending build context" in probe.stdout:
        builder = "the classic (legacy) builder: no buildx component is installed"
    else:
        builder = "not the classic builder?! " + (probe.stderr.strip().splitlines() or ["(no message)"])[0]

    def meta_build() -> None:
        sh(*META, "build", "-j", str(args.jobs), "--no-cache", cwd=ws, env=environment)

    def xargs_build() -> None:
        with commands.open() as stdin:
            subprocess.run(["xargs", "-P", str(args.jobs), "-L", "1", "docker"], stdin=stdin, env=docker_env,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    meta_build()  # warm: page cache, Python's bytecode, the engine's first builds
    xargs_build()
    times = {"meta": [], "xargs": []}
    for run in range(args.runs):
        sides = [("meta", meta_build), ("xargs", xargs_build)]
        for name, work in sides if run % 2 == 0 else reversed(sides):
            times[name].append(timed(work))
    startup = statistics.median(timed(lambda: sh(*META, "project", "list", cwd=ws, env=environment))
                                for _ in range(3))
    return {"times": times, "builder": builder, "startup": startup}


# -- 2. rollouts ------------------------------------------------------------------------------

APP = """#!/bin/busybox sh
/bin/busybox mkdir -p /tmp && /bin/busybox touch /tmp/healthy
trap "exit 0" TERM INT
/bin/busybox sleep 2147483647 & wait
"""
HEALTHCHECK = 'HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD ["/bin/busybox", "test", "-f", "/tmp/healthy"]'


def make_rollout_fleet(args, engine, environment: dict, base: Path) -> tuple[Path, list[str], dict]:
    """SERVICES projects with two commits each (branches one and two), both images pushed, HEADs on one.

    Returns the workspace, the service names and branch -> service -> image by digest.
    """
    names = [f"rsvc{i}" for i in range(args.services)]
    sources = {name: {"Dockerfile": f"FROM scratch\nCOPY busybox /bin/busybox\nCOPY app.sh /app.sh\n"
                                    f"COPY version.txt /version.txt\n{HEALTHCHECK}\n"
                                    'ENTRYPOINT ["/bin/busybox", "sh", "/app.sh"]\n',
                      "app.sh": APP, "version.txt": "one\n"} for name in names}
    ws = publish_fleet(base / "rollout", f"{engine.registry}/bench", sources, engine.busybox, environment)
    manifest = json.loads((ws / ".meta").read_text())
    manifest["metarepo"]["environments"]["staging"] = {
        "target": "swarm", "replicas": 1, "timeout": 120,
        "update": {"parallelism": 1, "delay": 0, "monitor": args.monitor, "order": "start-first"}}
    (ws / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
    sh("git", "commit", "-qam", "bench settings", cwd=ws)

    # two pushed images per service: branch "one" (the first commit) and "two"
    shas: dict[str, dict[str, str]] = {"one": {}, "two": {}}
    for name in names:
        project = ws / "images" / name
        sh("git", "branch", "-q", "one", cwd=project)
        (project / "version.txt").write_text("two\n")
        sh("git", "commit", "-qam", "two", cwd=project)
        sh("git", "branch", "-q", "two", cwd=project)
        for branch in shas:
            shas[branch][name] = capture("git", "rev-parse", branch, cwd=project).strip()

    pinned: dict[str, dict[str, str]] = {}
    for branch in ("two", "one"):
        checkout(ws, names, branch)
        built = json.loads(capture(*META, "build", "--push", "--json", cwd=ws, env=environment))
        pinned[branch] = {Path(i["project"]).name: f"{i['tags'][0]}@{i['digest']}" for i in built["images"]}
    return ws, names, pinned


def checkout(ws: Path, names: list[str], branch: str) -> None:
    for name in names:
        sh("git", "checkout", "-q", branch, cwd=ws / "images" / name)


def bench_rollouts(args, engine, environment: dict, base: Path) -> dict:
    import docker

    ws, names, pinned = make_rollout_fleet(args, engine, environment, base)
    # state "one": the services are created by meta (not timed)
    created = json.loads(capture(*META, "rollout", "staging", "--json", cwd=ws, env=environment))
    assert created["ok"], created

    client = docker.DockerClient(base_url=engine.host, timeout=120)
    spec = client.api.inspect_service(names[0])["Spec"]
    monitor = spec["UpdateConfig"]["Monitor"] / 1e9  # the window meta chose: max(update.monitor, HEALTHCHECK's)
    flags = ["--update-parallelism", "1", "--update-delay", "0s", "--update-monitor", f"{monitor:g}s",
             "--update-failure-action", "rollback", "--update-order", "start-first",
             "--update-max-failure-ratio", "0", "--detach=false", "--quiet"]

    def swarm_seconds() -> list[float]:
        """Each service's last update as Swarm timed it: UpdateStatus StartedAt to CompletedAt."""
        found = []
        for name in names:
            status = client.api.inspect_service(name).get("UpdateStatus") or {}
            assert status.get("State") == "completed", (name, status)
            found.append((_when(status["CompletedAt"]) - _when(status["StartedAt"])))
        return found

    def images() -> set[str]:
        return {client.api.inspect_service(n)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] for n in names}

    result = {"meta": [], "docker": [], "meta_swarm": [], "docker_swarm": [], "meta_services": [],
              "docker_services": [], "monitor": monitor, "first_change": []}
    state = "one"
    for _ in range(args.runs):
        # meta: every service to the other image (HEAD of each project moved there first, not timed)
        other = "two" if state == "one" else "one"
        checkout(ws, names, other)
        out = base / "rollout" / "last.json"
        t0 = time.perf_counter()
        with out.open("w") as stdout:
            subprocess.run([*META, "rollout", "staging", "--json"], cwd=ws, env=environment, check=True,
                           stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.DEVNULL)
        result["meta"].append(time.perf_counter() - t0)
        doc = json.loads(out.read_text())
        assert doc["ok"] and {s["state"] for s in doc["services"]} == {"deployed"}, doc
        assert images() == set(pinned[other].values())
        result["meta_services"].append([s["seconds"] for s in doc["services"]])
        result["meta_swarm"].append(swarm_seconds())
        first = min(_when(client.api.inspect_service(n)["UpdateStatus"]["StartedAt"]) for n in names)
        result["first_change"].append(first - _wall_at_start(t0))
        state = other

        # docker CLI: every service back, one after another, each waiting for convergence
        other = "two" if state == "one" else "one"
        per = []
        t0 = time.perf_counter()
        for name in names:
            per.append(timed(lambda: sh("docker", "service", "update", "--image", pinned[other][name], *flags,
                                        name, env=environment)))
        result["docker"].append(time.perf_counter() - t0)
        assert images() == set(pinned[other].values())
        result["docker_services"].append(per)
        result["docker_swarm"].append(swarm_seconds())
        state = other
    client.close()
    return result


_OFFSET = time.time() - time.perf_counter()


def _wall_at_start(perf: float) -> float:
    return perf + _OFFSET


def _when(stamp: str) -> float:
    """An engine time (RFC 3339, nanoseconds) as a Unix time."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return seconds.timestamp() + float(f"0.{fraction or 0}")


# -- report -----------------------------------------------------------------------------------


def median(values) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20, help="images to build (default 20)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="parallel builds (default: cores)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per side (default 3)")
    parser.add_argument("--services", type=int, default=5, help="services to roll out (default 5)")
    parser.add_argument("--monitor", type=float, default=2, help="the environment's update.monitor (default 2)")
    parser.add_argument("--only", choices=("build", "rollout"), help="run one half only")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="make the fleets in DIR and keep them")
    args = parser.parse_args()

    from tests.images.engine import missing, running_engine

    why = missing()
    if why:
        sys.exit(f"bench_images: cannot run: {why}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="bench-images-", dir=args.keep))
    else:
        base = Path(tempfile.mkdtemp(prefix="bench-images-"))
    (base / "gitconfig").write_text("[init]\n\tdefaultBranch = master\n[protocol \"file\"]\n\tallow = always\n")
    identity = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
                "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
                "GIT_CONFIG_GLOBAL": str(base / "gitconfig")}
    os.environ.update(identity)
    os.environ.pop("META_JOBS", None)
    print(f"bench_images: load average before: {load()} ({os.cpu_count()} cores)", flush=True)
    print(f"byte-compiled {compile_metarepo()} (as pip install does); meta is {shlex.join(META)}", flush=True)
    try:
        with running_engine() as engine:
            environment = {**os.environ, **engine.env}
            server = capture("docker", "version", "--format", "{{.Client.Version}} / {{.Server.Version}}",
                             env=environment).strip()
            print(f"docker CLI / engine: {server}", flush=True)
            if args.only != "rollout":
                report_builds(args, bench_builds(args, engine, environment, base))
            if args.only != "build":
                report_rollouts(args, bench_rollouts(args, engine, environment, base))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(f"load average after: {load()}")


def report_builds(args, found: dict) -> None:
    times = found["times"]
    meta, xargs = median(times["meta"]), median(times["xargs"])
    ratio = meta / xargs
    print(f"\n1. {args.images} images, --no-cache, {args.jobs} jobs, median of {args.runs} (load {load()})")
    print(f"   docker CLI builder: {found['builder']}; meta uses the SDK's /build, the same classic builder")
    print(f"   xargs -P {args.jobs} docker build  {xargs:7.2f} s   runs: {_runs(times['xargs'])}")
    print(f"   meta build -j {args.jobs}          {meta:7.2f} s   runs: {_runs(times['meta'])}")
    print(f"   meta start-up (meta project list): {found['startup']:.2f} s")
    print(f"   ratio meta / xargs: {ratio:.2f}  (target <= {BUILD_TARGET})  {verdict(ratio, BUILD_TARGET)}")


def report_rollouts(args, found: dict) -> None:
    meta, docker_cli = median(found["meta"]), median(found["docker"])
    ratio = meta / docker_cli
    swarm_meta = median(sum(x) for x in found["meta_swarm"])
    swarm_docker = median(sum(x) for x in found["docker_swarm"])
    waits_meta = median(sum(x) for x in found["meta_services"])
    print(f"\n2. rollout of {args.services} services, one at a time, monitor {found['monitor']:g}s, "
          f"median of {args.runs} (load {load()})")
    print(f"   docker service update x{args.services}  {docker_cli:7.2f} s   runs: {_runs(found['docker'])}   "
          f"Swarm's own: {swarm_docker:.2f} s (overhead {docker_cli - swarm_docker:+.2f} s)")
    print(f"   meta rollout staging       {meta:7.2f} s   runs: {_runs(found['meta'])}   "
          f"Swarm's own: {swarm_meta:.2f} s (overhead {meta - swarm_meta:+.2f} s)")
    per_docker = median(x for run in found["docker_services"] for x in run)
    per_meta = median(x for run in found["meta_services"] for x in run)
    print(f"   meta split: first service change after {median(found['first_change']):.2f} s, "
          f"per-service deploy {per_meta:.2f} s (docker CLI process {per_docker:.2f} s), "
          f"outside deploys {meta - waits_meta:.2f} s (start-up, plan, digests, record + commit)")
    print(f"   ratio meta / docker CLI: {ratio:.3f}  (target <= {ROLLOUT_TARGET})  {verdict(ratio, ROLLOUT_TARGET)}")


def _runs(values) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
