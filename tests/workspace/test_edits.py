"""Editing the meta repo's files under faults: many meta commands at once, and a full disk."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import git, read_manifest, run_meta


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "metarepo", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def test_many_project_adds_at_once_lose_nothing(tmp_path, meta):
    assert meta("init", cwd=tmp_path).returncode == 0
    names = [f"svc/s{n:02}" for n in range(24)]
    procs = [_start("project", "add", name, f"file:///srv/{n}.git", cwd=tmp_path) for n, name in enumerate(names)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert sorted(read_manifest(tmp_path)["projects"]) == names
    assert sorted((tmp_path / ".gitignore").read_text().splitlines()) == names
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_adds_and_removes_at_once_lose_nothing(tmp_path, meta):
    assert meta("init", cwd=tmp_path).returncode == 0
    old = [f"old{n}" for n in range(10)]
    for name in old:
        assert meta("project", "add", name, f"file:///srv/{name}.git", cwd=tmp_path).returncode == 0
    new = [f"new{n}" for n in range(10)]
    procs = [_start("project", "remove", name, cwd=tmp_path) for name in old]
    procs += [_start("project", "add", name, f"file:///srv/{name}.git", cwd=tmp_path) for name in new]
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    assert sorted(read_manifest(tmp_path)["projects"]) == new
    assert sorted((tmp_path / ".gitignore").read_text().splitlines()) == new


def test_an_edit_waits_for_the_edit_lock_and_then_reads_the_file_afresh(tmp_path, meta):
    from metarepo.manifest import edit_lock

    assert meta("init", cwd=tmp_path).returncode == 0
    with edit_lock(tmp_path):
        proc = _start("project", "add", "b", "file:///srv/b.git", cwd=tmp_path)
        time.sleep(1.5)
        assert proc.poll() is None  # waiting for the lock, not writing
        data = read_manifest(tmp_path)
        data["projects"]["a"] = "file:///srv/a.git"  # what another edit wrote meanwhile
        (tmp_path / ".meta").write_text(json.dumps(data, indent=2) + "\n")
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert list(read_manifest(tmp_path)["projects"]) == ["a", "b"]


def test_import_refuses_an_origin_that_carries_a_credential(tmp_path, meta):
    meta("init", cwd=tmp_path)
    clone = tmp_path / "shared"
    git("init", "-q", str(clone), cwd=tmp_path)
    git("remote", "add", "origin", "https://deploy:s3cret@git.example.invalid/acme/shared.git", cwd=clone)
    proc = meta("project", "import", "shared", cwd=tmp_path)
    assert proc.returncode == 2
    assert "carries a credential" in proc.stderr and "s3cret" not in proc.stderr
    assert read_manifest(tmp_path)["projects"] == {}
    # given without the secret, it is imported
    assert meta("project", "import", "shared", "https://git.example.invalid/acme/shared.git",
                cwd=tmp_path).returncode == 0


# -- a full disk ---------------------------------------------------------------


@contextlib.contextmanager
def _small_disk(where: Path) -> Iterator[Path]:
    where.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"cannot mount a tmpfs here (needs root): {exc}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path) -> None:
    with open(disk / "filler", "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    with contextlib.suppress(OSError):  # the last partial page too
        with open(disk / "filler2", "wb") as out:
            while True:
                out.write(b"\0")
                out.flush()


@pytest.fixture
def full_meta_repo(tmp_path, fleet) -> Iterator[Path]:
    """A meta repo on a 4 MB tmpfs with one project cloned and an old .meta.lock; then the disk is filled."""
    with _small_disk(tmp_path / "disk") as disk:
        root = disk / "ws"
        root.mkdir()
        assert run_meta("init", cwd=root).returncode == 0
        orders = fleet.replace("meta.git", "orders.git")
        assert run_meta("project", "add", "orders", orders, cwd=root).returncode == 0
        git("clone", "-q", "--depth", "1", orders, str(root / "orders"), cwd=root)
        (root / ".meta.lock").write_text('{"projects": {}}\n')
        _fill(disk)
        yield root


def test_a_full_disk_fails_each_edit_in_one_line_and_changes_nothing(full_meta_repo):
    root = full_meta_repo
    before = {name: (root / name).read_bytes() for name in (".meta", ".gitignore", ".meta.lock")}
    for args in (("project", "add", "billing", "file:///srv/billing.git"), ("project", "remove", "orders"),
                 ("lock",)):
        proc = run_meta(*args, cwd=root)
        assert proc.returncode == 1, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "No space left on device" in lines[0], lines
        assert {name: (root / name).read_bytes() for name in before} == before
        assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]


def test_a_deployment_record_waits_for_the_edit_lock_and_keeps_what_was_recorded_meanwhile(workspace: Path):
    from metarepo.environments import Deployment, record_deployments
    from metarepo.manifest import edit_lock

    with edit_lock(workspace):
        proc = _start("contracts", "record-deployment", "services/orders", "--env", "staging", "--sha", "HEAD",
                      cwd=workspace)
        time.sleep(1.5)
        assert proc.poll() is None  # waiting for the lock, not reading ENV.json yet
        record_deployments(workspace, "staging", [Deployment("services/billing", "0" * 40)])  # another rollout's
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    recorded = json.loads((workspace / "environments" / "staging.json").read_text())["services"]
    assert sorted(recorded) == ["services/billing", "services/orders"]


def test_ci_generate_provider_keeps_a_project_added_meanwhile(workspace: Path):
    from metarepo.manifest import edit_lock

    with edit_lock(workspace):
        proc = _start("ci", "generate", "--provider", "gitlab", cwd=workspace)
        time.sleep(1.5)
        assert proc.poll() is None  # waiting for the lock before it reads .meta again
        data = read_manifest(workspace)
        data["projects"]["services/late"] = "file:///srv/late.git"  # another edit, written meanwhile
        (workspace / ".meta").write_text(json.dumps(data, indent=2) + "\n")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    data = read_manifest(workspace)
    assert "services/late" in data["projects"]
    assert all(data["metarepo"]["projects"][name]["ci"] == "gitlab"
               for name in data["projects"] if name != "services/late")
