"""The real peers the benchmark compares against, installed on demand.

- npm ``meta`` 2.2.25 into ``bench/.peers/npm`` (gitignored), with an npm
  ``overrides`` entry pinning ``commander`` to 2.20.3 (meta's own git
  dependency on a newer commander cannot be fetched). Its sub-commands
  (``meta-exec``, ...) are found on PATH, so runs put ``node_modules/.bin``
  first on PATH.
- ``gita`` from PyPI into the running interpreter's environment (the
  ``bench`` extra of pyproject.toml already names it). Its repo list lives in
  ``$GITA_PROJECT_HOME/gita/repos.csv``, so the benchmark points
  ``GITA_PROJECT_HOME`` at a scratch folder and never touches the user's
  ``~/.config/gita``.

A peer that cannot be installed is reported as one line; only its ratios are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

PEERS = Path(__file__).resolve().parent / ".peers"
NPM_META_VERSION = "2.2.25"
NPM_PACKAGE = {"private": True, "dependencies": {"meta": NPM_META_VERSION},
               "overrides": {"commander": "2.20.3"}}


@dataclass
class Peer:
    name: str
    argv: list[str] | None  # None: not available
    env: dict[str, str] = field(default_factory=dict)
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.argv is not None


def npm_meta(log=print) -> Peer:
    folder = PEERS / "npm"
    bin_dir = folder / "node_modules" / ".bin"
    binary = bin_dir / "meta"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            return Peer("npm meta", None, problem="npm is not installed")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text(json.dumps(NPM_PACKAGE, indent=2) + "\n")
        log(f"installing npm meta {NPM_META_VERSION} into {folder} ...")
        proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder,
                              capture_output=True, text=True)
        if proc.returncode != 0 or not binary.exists():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            return Peer("npm meta", None, problem=f"npm install failed: {last}")
    proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                          env={**os.environ, **env})
    if proc.returncode != 0 or NPM_META_VERSION not in proc.stdout:
        return Peer("npm meta", None, problem=f"{binary} --version said {proc.stdout.strip()!r}")
    return Peer("npm meta", [str(binary)], env)


def gita(config_home: Path, log=print) -> Peer:
    """gita, with its repo list kept under ``config_home`` (GITA_PROJECT_HOME)."""
    env = {"GITA_PROJECT_HOME": str(config_home)}
    script = Path(sys.executable).with_name("gita")

    def available() -> bool:
        return subprocess.run([sys.executable, "-c", "import gita"], capture_output=True).returncode == 0

    if not available():
        log("installing gita into this Python environment (pip install gita) ...")
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "gita"],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not available():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            return Peer("gita", None, problem=f"pip install gita failed: {last}")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "gita"]
    return Peer("gita", argv, env)


def register_with_gita(peer: Peer, paths: list[Path]) -> None:
    """``gita add`` every repo at once (it takes many paths), into the scratch config only."""
    config = Path(peer.env["GITA_PROJECT_HOME"])
    config.mkdir(parents=True, exist_ok=True)
    subprocess.run([*peer.argv, "add", *map(str, paths)], env={**os.environ, **peer.env}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    listed = config / "gita" / "repos.csv"
    rows = listed.read_text().splitlines() if listed.exists() else []
    if len(rows) != len(paths):
        raise RuntimeError(f"gita registered {len(rows)} of {len(paths)} repos in {listed}")
