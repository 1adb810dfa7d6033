#!/usr/bin/env python3
"""Benchmark: `meta ci generate` and `meta ci check` on a generated fleet, against check-jsonschema alone.

    python bench/bench_ci.py [--repos 1000] [--runs 3] [--providers jenkins,gitlab] [--keep DIR]

Generates (in a temp dir) a meta repo with REPOS project folders, their CI
providers round-robin over Jenkins, CircleCI, GitHub Actions, GitLab and
Travis, with the runners' setup (``ci_install``, ``meta_repo``) set.
Then it times, each as a fresh process:

1. `meta ci generate` with nothing remembered (render, validate every file
   against its vendor schema or as Groovy, write);
2. `meta ci generate` again (nothing to write; validation verdicts remembered);
3. `meta ci check` (render and compare every file);
4. the peer: the `check-jsonschema` CLI over the same generated YAML files,
   one call per vendor schema (`vendor.circle-ci`, `vendor.github-workflows`,
   `vendor.gitlab-ci`, `vendor.travis`), which is what a fleet runs today to
   validate its copies. It checks a fifth fewer files: it has nothing for
   Jenkinsfiles.

It prints the best of RUNS for each and the ratios to the peer.
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

PROVIDERS = ("jenkins", "circleci", "github", "gitlab", "travis")
PEER_SCHEMAS = {  # the generated file of each provider, and the schema check-jsonschema vendors for it
    "circleci": (".circleci/config.yml", "vendor.circle-ci"),
    "github": (".github/workflows/cd.yml", "vendor.github-workflows"),
    "gitlab": (".gitlab-ci.yml", "vendor.gitlab-ci"),
    "travis": (".travis.yml", "vendor.travis"),
}


def generate(root: Path, repos: int, providers: tuple[str, ...] = PROVIDERS) -> dict[str, list[str]]:
    """Write the meta repo; return each provider's project folders."""
    projects, settings, by_provider = {}, {}, {p: [] for p in providers}
    for i in range(repos):
        name = f"services/svc{i:04d}"
        provider = providers[i % len(providers)]
        (root / name).mkdir(parents=True)
        # generate writes into clones only: a git repo with something in it (a lone .git is an unfinished clone)
        subprocess.run(["git", "init", "--quiet", str(root / name)], check=True)
        (root / name / "README.md").write_text(f"# svc{i:04d}\n")
        projects[name] = f"https://git.example.invalid/acme/svc{i:04d}.git"
        settings[name] = {"ci": provider, "test": f"make test-{i % 7}"}
        by_provider[provider].append(name)
    manifest = {"projects": projects,
                "metarepo": {"defaults": {"branch": "main", "registry": "registry.example/acme",
                                          "ci_install": "metarepo @ git+https://git.example.invalid/metarepo@v1",
                                          "meta_repo": "https://git.example.invalid/acme/meta.git",
                                          "meta_branch": "main"},
                             "projects": settings}}
    (root / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
    return by_provider


def timed(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - start, proc


def meta(root: Path, *args: str) -> float:
    seconds, proc = timed([sys.executable, "-m", "metarepo", *args], root)
    if proc.returncode != 0:
        sys.exit(f"meta {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return seconds


def peer(root: Path, by_provider: dict[str, list[str]], tool: str) -> float:
    total = 0.0
    for provider, (path, schema) in PEER_SCHEMAS.items():
        files = [str(root / name / path) for name in by_provider.get(provider, ())]
        if not files:
            continue
        seconds, proc = timed([tool, "--builtin-schema", schema, *files], root)
        if proc.returncode != 0:
            sys.exit(f"check-jsonschema {schema} failed: {(proc.stdout + proc.stderr).strip()[-500:]}")
        total += seconds
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="best of N runs for each")
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="the fleet's CI providers, round-robin")
    parser.add_argument("--keep", type=Path, help="generate the fleet here and keep it")
    args = parser.parse_args()
    providers = tuple(p for p in args.providers.split(",") if p)
    if not providers or set(providers) - set(PROVIDERS):
        sys.exit(f"--providers: choose from {', '.join(PROVIDERS)}")
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    if not tool:
        sys.exit("check-jsonschema is not installed (pip install -e '.[dev]')")
    with tempfile.TemporaryDirectory(prefix="bench-ci-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        by_provider = generate(root, args.repos, providers)
        print(f"fleet: {args.repos} repos, {', '.join(f'{len(v)} {k}' for k, v in by_provider.items())}")
        cold, warm, check, peers = [], [], [], []
        for _ in range(args.runs):
            for folders in by_provider.values():  # a clean fleet: no pipelines, nothing remembered
                for folder in folders:
                    for child in (root / folder).iterdir():
                        if child.name in (".git", "README.md"):
                            continue
                        shutil.rmtree(child) if child.is_dir() else child.unlink()
            shutil.rmtree(root / ".metarepo", ignore_errors=True)
            cold.append(meta(root, "ci", "generate"))
            warm.append(meta(root, "ci", "generate"))
            check.append(meta(root, "ci", "check"))
            peers.append(peer(root, by_provider, tool))
        best = {"ci generate (first)": min(cold), "ci generate (again)": min(warm),
                "ci check": min(check)}
        base = min(peers)
        print(f"check-jsonschema over the {sum(len(by_provider.get(p, ())) for p in PEER_SCHEMAS)} YAML files: "
              f"{base:.2f}s")
        for label, seconds in best.items():
            print(f"meta {label}: {seconds:.2f}s   ratio to check-jsonschema: {seconds / base:.2f}x")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
