#!/usr/bin/env python3
"""Make the example fleet: one bare remote per service, and a meta repo listing them.

    python examples/make_fleet.py DEST      # prints the meta repo's URL

Each folder of ``examples/fleet/`` becomes a service repository with one
commit on ``master``, pushed to ``DEST/remotes/<name>.git``; the meta repo
(``DEST/remotes/meta.git``) holds a ``.meta`` made from
``examples/fleet/meta.json`` with ``file://`` URLs. The demo and the test
suite both use it, so features grow the fleet here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLEET = Path(__file__).resolve().parent / "fleet"

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Fleet Maker", "GIT_AUTHOR_EMAIL": "fleet@example.invalid",
    "GIT_COMMITTER_NAME": "Fleet Maker", "GIT_COMMITTER_EMAIL": "fleet@example.invalid",
    "GIT_TERMINAL_PROMPT": "0",
}


def _git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, env={**os.environ, **_GIT_ENV})


def publish(source: Path, remote: Path, message: str = "Initial commit") -> None:
    """Make ``remote`` a bare repository holding ``source``'s files as one commit on master."""
    _git("init", "--quiet", "--bare", "--initial-branch=master", str(remote))
    with tempfile.TemporaryDirectory(prefix="fleet-") as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(source, work, symlinks=True)
        _git("init", "--quiet", "--initial-branch=master", cwd=work)
        _git("add", "-A", cwd=work)
        _git("commit", "--quiet", "-m", message, cwd=work)
        _git("push", "--quiet", str(remote), "master", cwd=work)


def static_busybox() -> str | None:
    """A statically linked busybox (Debian's busybox-static): the only program in the FROM scratch images."""
    for candidate in ("/bin/busybox", shutil.which("busybox")):
        if candidate and os.path.isfile(candidate):
            with open(candidate, "rb") as f:
                head = f.read(8192)
            if head[:4] == b"\x7fELF" and b"ld-linux" not in head and b"ld-musl" not in head:
                return candidate
    return None


def make_fleet(dest: Path, services: list[str] | None = None) -> str:
    """Create the fleet under ``dest``; return the meta repo's ``file://`` URL."""
    remotes = Path(dest).resolve() / "remotes"
    remotes.mkdir(parents=True, exist_ok=True)
    names = services or sorted(p.name for p in FLEET.iterdir() if p.is_dir())
    busybox = static_busybox()
    for name in names:
        with tempfile.TemporaryDirectory(prefix="svc-") as tmp:
            source = Path(tmp) / name
            shutil.copytree(FLEET / name, source)
            if busybox and (source / "Dockerfile").exists():
                shutil.copy2(busybox, source / "busybox")  # images are FROM scratch: no pulls
            publish(source, remotes / f"{name}.git", f"{name}: first version")
    return make_meta_repo(remotes, names)


def make_meta_repo(remotes: Path, names: list[str]) -> str:
    """Publish ``remotes/meta.git`` listing the services ``names`` found in ``remotes``."""
    template = (FLEET / "meta.json").read_text()
    manifest = json.loads(template.replace("{remotes}", f"file://{remotes}"))
    manifest["projects"] = {k: v for k, v in manifest["projects"].items() if k.rsplit("/", 1)[-1] in names}
    ours = manifest.get("metarepo", {}).get("projects", {})
    for key in list(ours):
        if key not in manifest["projects"]:
            del ours[key]
    with tempfile.TemporaryDirectory(prefix="meta-") as tmp:
        meta = Path(tmp) / "meta"
        meta.mkdir()
        (meta / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
        (meta / ".gitignore").write_text("".join(f"{k}\n" for k in manifest["projects"]) + ".metarepo/\n")
        (meta / "README.md").write_text("# The example fleet's meta repo\n")
        publish(meta, remotes / "meta.git", "The example fleet")
    return f"file://{remotes / 'meta.git'}"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_fleet.py DEST")
    print(make_fleet(Path(sys.argv[1])))
