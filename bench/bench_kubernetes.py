#!/usr/bin/env python3
"""Benchmark: render and validate the Kubernetes manifests of a fleet, against kubernetes-validate alone.

    python bench/bench_kubernetes.py [--services 100] [--repeat 3]

For SERVICES releases (the example fleet's orders service under SERVICES
names) it times, in this process, best of REPEAT: (1) the baseline, the
already rendered Deployment and Service documents handed to
``kubernetes_validate.validate(document, version, strict=True)`` one by
one, as its own CLI does; (2) ``render_kubernetes`` for every release: Jinja
rendering, YAML parsing, the same strict schemas (compiled once) and our own
checks. It prints both times and the ratio (below 1 means rendering and
validating is faster than the library validating alone).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import kubernetes_validate

    from metarepo.images.kubernetes_manifests import kubernetes_version, render_kubernetes
    from metarepo.images.release import Healthcheck, Release, environment_settings

    settings = environment_settings("production", {"target": "kubernetes", "namespace": "shop", "replicas": 3})
    base = Release(project="services/orders", service="orders", image="registry.acme.io/acme/orders:" + "a" * 40,
                   sha="a" * 40, version="1.4.2", replicas=3, update=settings.update, timeout=settings.timeout,
                   digest="sha256:" + "b" * 64,
                   healthcheck=Healthcheck(("CMD", "/bin/busybox", "test", "-f", "/tmp/healthy"), 2, 2, 3))
    releases = [replace(base, project=f"services/svc{i}", service=f"svc{i}") for i in range(args.services)]
    version = kubernetes_version(settings)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet"
        root.mkdir()
        documents = [m.document for r in releases for m in render_kubernetes(root, r, settings)]

        def baseline() -> None:
            for document in documents:
                kubernetes_validate.validate(document, version, strict=True)

        def ours() -> None:
            for r in releases:
                render_kubernetes(root, r, settings)

        times = {}
        for name, work in (("kubernetes-validate alone", baseline), ("render + validate", ours)):
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                work()
                best = min(best, time.perf_counter() - t0)
            times[name] = best
    for name, seconds in times.items():
        print(f"{name:28} {seconds:7.3f} s  ({seconds / args.services * 1000:.1f} ms per service)")
    print(f"ratio (render + validate / validate alone): "
          f"{times['render + validate'] / times['kubernetes-validate alone']:.2f}")


if __name__ == "__main__":
    main()
