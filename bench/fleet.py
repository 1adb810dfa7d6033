"""A generated fleet for the benchmarks: N small git repos with bare ``file://`` remotes and a meta repo.

Layout under ROOT::

    remotes/svc0000.git ...   bare remotes (history written by one ``git fast-import`` each)
    remotes/meta.git          the meta repo: a .meta listing services/svcNNNN -> file://.../svcNNNN.git
    ws/                       a clone of the meta repo with every project cloned into ws/services/

Each project gets 1-3 commits of a few small files. In the clones, about a
third are dirty (a modified tracked file and/or an untracked one) and about
one in ten has a local commit that is not pushed, so ``status`` has work to do.

Only plain git subprocesses (three per repo), run a few at a time.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Mapping

Files = Callable[[int], Mapping[str, str]]

IDENTITY = {
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}
BRANCH = "main"


def _env() -> dict[str, str]:
    return {**os.environ, **IDENTITY, "GIT_TERMINAL_PROMPT": "0"}


# Generation only: no fsync (the fleet is scratch data) and no hook samples copied into every repo.
_FAST = ["-c", "core.fsync=none", "-c", "core.fsyncObjectFiles=false", "-c", "init.templateDir="]


def _git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> None:
    subprocess.run(["git", *_FAST, *args], cwd=cwd, input=stdin, env=_env(), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _blob(path: str, text: str) -> bytes:
    data = text.encode()
    return b"M 644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data)


def history(index: int, files: Mapping[str, str] | None = None) -> bytes:
    """A fast-import stream: 1-3 commits of a few small files (and ``files``, in the first)."""
    name = f"svc{index:04d}"
    stamp = 1_700_000_000 + index * 97
    out = []
    for n in range(1 + index % 3):
        message = f"{name}: change {n + 1}".encode()
        who = b"Bench <bench@example.invalid> %d +0000" % (stamp + n * 3600)
        out.append(b"commit refs/heads/%s\nauthor %s\ncommitter %s\ndata %d\n%s\n"
                   % (BRANCH.encode(), who, who, len(message), message))
        if n == 0:
            out.append(_blob("README.md", f"# {name}\n\nA generated service for the benchmark.\n"))
            out.append(_blob(".gitignore", "build/\n*.pyc\n"))
            out.append(_blob("Makefile", "test:\n\t@echo ok\n"))
            out.extend(_blob(path, text) for path, text in (files or {}).items())
        out.append(_blob("src/main.py", f"VERSION = {n + 1}\n\ndef main():\n    return {index}\n"))
        out.append(_blob(f"src/part{n}.py", "\n".join(f"X{i} = {i * n}" for i in range(20)) + "\n"))
        out.append(b"\n")
    return b"".join(out)


def _project(remotes: Path, services: Path, index: int, files: Files | None = None) -> None:
    name = f"svc{index:04d}"
    bare = remotes / f"{name}.git"
    _git("init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(bare))
    _git("fast-import", "--quiet", cwd=bare, stdin=history(index, files(index) if files else None))
    clone = services / name
    _git("clone", "--quiet", "--local", str(bare), str(clone))
    # origin as .meta names it (a file:// URL); edited in place rather than one more process
    config = clone / ".git" / "config"
    config.write_text(config.read_text().replace(f"url = {bare}", f"url = {bare.as_uri()}"))
    if index % 3 == 1:
        with open(clone / "src" / "main.py", "a") as f:
            f.write("# local edit\n")
    if index % 5 == 2:
        (clone / "notes.txt").write_text("untracked\n")
    if index % 10 == 7:
        _git("-c", "core.hooksPath=/dev/null", "commit", "--quiet", "--no-verify", "-a", "-m", "local work",
             "--allow-empty", cwd=clone)


def meta_document(remotes: Path, count: int, settings: Mapping | None = None) -> dict:
    document = {"projects": {f"services/svc{i:04d}": (remotes / f"svc{i:04d}.git").as_uri() for i in range(count)},
                "ignore": ["node_modules"]}
    if settings:
        document["metarepo"] = dict(settings)
    return document


def generate(root: Path, count: int, *, jobs: int | None = None, files: Files | None = None,
             settings: Mapping | None = None) -> Path:
    """Make the fleet under ``root``; return the workspace (the meta repo clone).

    ``files(index)``: more files for a service's first commit (path -> text); ``settings``: the
    manifest's ``metarepo`` section."""
    root = Path(root).resolve()
    remotes, ws = root / "remotes", root / "ws"
    remotes.mkdir(parents=True)
    meta_bare = remotes / "meta.git"
    _git("init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(meta_bare))
    document = meta_document(remotes, count, settings)
    meta_text = json.dumps(document, indent=2) + "\n"
    ignore_text = "\n".join(document["projects"]) + "\n"
    message = b"the fleet"
    who = b"Bench <bench@example.invalid> 1700000000 +0000"
    stream = (b"commit refs/heads/%s\nauthor %s\ncommitter %s\ndata %d\n%s\n"
              % (BRANCH.encode(), who, who, len(message), message)
              + _blob(".meta", meta_text) + _blob(".gitignore", ignore_text) + b"\n")
    _git("fast-import", "--quiet", cwd=meta_bare, stdin=stream)
    _git("clone", "--quiet", meta_bare.as_uri(), str(ws))
    services = ws / "services"
    services.mkdir()
    with ThreadPoolExecutor(max_workers=jobs or (os.cpu_count() or 2) * 2) as pool:
        for future in [pool.submit(_project, remotes, services, i, files) for i in range(count)]:
            future.result()
    return ws


def project_paths(ws: Path, count: int) -> list[Path]:
    return [ws / "services" / f"svc{i:04d}" for i in range(count)]
