#!/usr/bin/env python3
"""Make the example fleet: one bare remote per service, and a meta repo listing them.

    python examples/make_fleet.py DEST      # prints the meta repo's URL

Each folder of ``examples/fleet/`` becomes a service repository with one
commit on ``master``, pushed to ``DEST/remotes/<name>.git``; the meta repo
(``DEST/remotes/meta.git``) holds a ``.meta`` made from
``examples/fleet/meta.json`` with ``file://`` URLs. The demo and the test
suite both use it, so features grow the fleet here.

    python examples/make_fleet.py --release-history DEST

gives each service a release history instead (``HISTORY``): a last release
tag on an earlier commit, then Conventional Commits that bring it to the same
files, and a meta repo whose ``environments/staging.json`` says staging runs
each service's last release, so ``meta release plan --to staging`` has a
train to show.
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


# service -> (its last release, or None for a service never released; the commits since: message and the
# files of examples/fleet/<service> that commit adds, which the release's commit does not have yet)
HISTORY: dict[str, tuple[str | None, list[tuple[str, list[str]]]]] = {
    "orders": ("1.4.2", [("fix: answer health checks while the service starts", ["app.sh"]),
                         ("feat(test): a make test target", ["Makefile"]),
                         ("docs: what the service does", ["README.md"])]),
    "billing": ("0.9.1", [("feat(invoices)!: totals in minor units\n\nBREAKING CHANGE: an invoice total is an "
                           "integer of cents now", ["app.sh"]),
                          ("docs: what the service does", ["README.md"])]),
    "shipping": ("2.0.0", [("fix(labels): print the postcode on every label", ["app.sh"]),
                           ("Update README", ["README.md"])]),
    "notifications": ("1.1.0", [("chore: tidy the Makefile", ["Makefile"]), ("docs: what the service does",
                                                                            ["README.md"])]),
    "gateway": (None, [("feat: route /orders to the orders service", ["app.sh"]),
                       ("perf: keep upstream connections open", ["Makefile"]),
                       ("docs: what the service does", ["README.md"])]),
}


def publish(source: Path, remote: Path, message: str = "Initial commit",
            history: tuple[str | None, list[tuple[str, list[str]]]] | None = None) -> None:
    """Make ``remote`` a bare repository holding ``source``'s files on master.

    One commit, or with ``history`` (``HISTORY``'s shape) the release commit,
    its tag ``vX.Y.Z`` and the commits since, ending with the same files.
    """
    _git("init", "--quiet", "--bare", "--initial-branch=master", str(remote))
    with tempfile.TemporaryDirectory(prefix="fleet-") as tmp:
        work = Path(tmp) / "work"
        later = Path(tmp) / "later"
        shutil.copytree(source, work, symlinks=True)
        steps = history[1] if history else []
        for _, files in steps:
            for name in files:
                (later / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(work / name), str(later / name))
        _git("init", "--quiet", "--initial-branch=master", cwd=work)
        _git("add", "-A", cwd=work)
        _git("commit", "--quiet", "-m", message, cwd=work)
        if history and history[0]:
            _git("tag", "--annotate", "-m", f"v{history[0]}", f"v{history[0]}", cwd=work)
        for text, files in steps:
            for name in files:
                shutil.move(str(later / name), str(work / name))
            _git("add", "-A", cwd=work)
            _git("commit", "--quiet", "-m", text, cwd=work)
        _git("push", "--quiet", "--follow-tags", str(remote), "master", cwd=work)


def static_busybox() -> str | None:
    """A statically linked busybox (Debian's busybox-static): the only program in the FROM scratch images."""
    for candidate in ("/bin/busybox", shutil.which("busybox")):
        if candidate and os.path.isfile(candidate):
            with open(candidate, "rb") as f:
                head = f.read(8192)
            if head[:4] == b"\x7fELF" and b"ld-linux" not in head and b"ld-musl" not in head:
                return candidate
    return None


def make_fleet(dest: Path, services: list[str] | None = None, *, release_history: bool = False,
               platform: bool = False) -> str:
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
            publish(source, remotes / f"{name}.git", f"{name}: first version",
                    HISTORY.get(name) if release_history else None)
    return make_meta_repo(remotes, names, release_history=release_history, platform=platform)


def _released(remote: Path, version: str) -> str:
    return subprocess.run(["git", "rev-list", "-n", "1", f"v{version}"], cwd=remote, check=True, text=True,
                          stdout=subprocess.PIPE, stdin=subprocess.DEVNULL).stdout.strip()


def make_meta_repo(remotes: Path, names: list[str], *, release_history: bool = False, platform: bool = False) -> str:
    """Publish ``remotes/meta.git`` listing the services ``names`` found in ``remotes``.

    With ``release_history``, staging runs each service's last release
    (``environments/staging.json``) and the projects' version goes into a
    ``VERSION`` file at each release. With ``platform``, ``platform.json``'s
    routes, metrics and SLOs go into the projects' settings and its staging
    settings (proxy, monitoring, analysis, broker, log driver) into staging.
    """
    template = (FLEET / "meta.json").read_text()
    manifest = json.loads(template.replace("{remotes}", f"file://{remotes}"))
    manifest["projects"] = {k: v for k, v in manifest["projects"].items() if k.rsplit("/", 1)[-1] in names}
    ours = manifest.get("metarepo", {}).get("projects", {})
    if platform:
        extra = json.loads((FLEET / "platform.json").read_text())
        for key, settings in extra["projects"].items():
            ours.setdefault(key, {}).update(settings)
        manifest["metarepo"]["environments"]["staging"].update(extra["staging"])
    for key in list(ours):
        if key not in manifest["projects"]:
            del ours[key]
    with tempfile.TemporaryDirectory(prefix="meta-") as tmp:
        meta = Path(tmp) / "meta"
        meta.mkdir()
        (meta / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
        (meta / ".gitignore").write_text("".join(f"{k}\n" for k in manifest["projects"]) + ".metarepo/\n")
        (meta / "README.md").write_text("# The example fleet's meta repo\n")
        if release_history:
            manifest["metarepo"]["defaults"]["release"] = {"tag_prefix": "v", "version_files": ["VERSION"],
                                                           "unparsed": "patch"}
            (meta / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
            services = {f"services/{n}": {"sha": _released(remotes / f"{n}.git", HISTORY[n][0]),
                                          "version": HISTORY[n][0], "time": "2026-11-30T09:00:00Z"}
                        for n in names if HISTORY.get(n, (None,))[0]}
            (meta / "environments").mkdir()
            (meta / "environments" / "staging.json").write_text(json.dumps(
                {"environment": "staging", "services": dict(sorted(services.items()))}, indent=2) + "\n")
        publish(meta, remotes / "meta.git", "The example fleet")
    return f"file://{remotes / 'meta.git'}"


if __name__ == "__main__":
    args = sys.argv[1:]
    history, platform = "--release-history" in args, "--platform" in args
    args = [a for a in args if a not in ("--release-history", "--platform")]
    if len(args) != 1:
        sys.exit("usage: make_fleet.py [--release-history] [--platform] DEST")
    print(make_fleet(Path(args[0]), release_history=history, platform=platform))
