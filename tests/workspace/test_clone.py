"""meta clone: the meta repo, then every project in parallel; failures named, others go on."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from tests.conftest import git, read_manifest
from tests.remotes import flaky_daemon, password_remote, silent_remote

SERVICES = ["services/orders", "services/billing", "services/shipping", "services/notifications",
            "services/gateway"]


def test_clone_gets_the_meta_repo_and_every_project(tmp_path, fleet, meta):
    proc = meta("clone", fleet, str(tmp_path / "ws"))
    assert proc.returncode == 0, proc.stderr
    ws = tmp_path / "ws"
    assert list(read_manifest(ws)["projects"]) == SERVICES
    for name in SERVICES:
        assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=ws / name) == "master"
        assert (ws / name / "Dockerfile").is_file()
    assert "5 cloned or present" in proc.stderr


def test_clone_default_dir_is_the_url_name(tmp_path, fleet, meta):
    assert meta("clone", fleet, cwd=tmp_path).returncode == 0
    assert (tmp_path / "meta" / ".meta").is_file()


def test_clone_again_checks_and_leaves_present_projects_alone(workspace, fleet, meta):
    marker = workspace / "services/orders/untracked.txt"
    marker.write_text("mine")
    proc = meta("clone", fleet, str(workspace), "--json")
    assert proc.returncode == 0, proc.stderr
    results = {p["project"]: p for p in json.loads(proc.stdout)["projects"]}
    assert {p["result"] for p in results.values()} == {"already cloned"}
    assert marker.read_text() == "mine"


def test_clone_refuses_a_present_folder_with_another_origin(workspace, fleet, meta, tmp_path):
    git("remote", "set-url", "origin", "file:///somewhere/else.git", cwd=workspace / "services/billing")
    proc = meta("clone", fleet, str(workspace))
    assert proc.returncode == 1
    assert "services/billing: origin is file:///somewhere/else.git but .meta says" in proc.stderr


def test_a_failed_project_does_not_stop_the_others(tmp_path, fleet, meta):
    remotes = Path(fleet[len("file://"):]).parent
    shutil.rmtree(remotes / "billing.git")
    proc = meta("clone", fleet, str(tmp_path / "ws"))
    assert proc.returncode == 1
    assert "✗ services/billing" in proc.stderr and "1 failed (services/billing)" in proc.stderr
    for name in SERVICES:
        assert (tmp_path / "ws" / name / ".git").exists() == (name != "services/billing")


def test_depth_makes_shallow_clones(tmp_path, fleet, meta):
    assert meta("clone", fleet, str(tmp_path / "ws"), "--depth", "1").returncode == 0
    assert git("rev-parse", "--is-shallow-repository", cwd=tmp_path / "ws/services/orders") == "true"


def test_unsafe_meta_url_is_refused(tmp_path, meta):
    proc = meta("clone", "ext::sh -c touch% pwned", cwd=tmp_path)
    assert proc.returncode == 2 and "ext:: transport" in proc.stderr
    assert not (tmp_path / "pwned").exists()


def _meta_repo_with(tmp_path: Path, projects: dict) -> str:
    from make_fleet import publish

    src = tmp_path / "metasrc"
    src.mkdir()
    (src / ".meta").write_text(json.dumps({"projects": projects}))
    publish(src, tmp_path / "meta.git")
    return f"file://{tmp_path / 'meta.git'}"


def test_a_remote_that_asks_for_a_password_fails_at_once(tmp_path, meta):
    with password_remote() as url:
        meta_url = _meta_repo_with(tmp_path, {"orders": url})
        started = time.monotonic()
        proc = meta("clone", meta_url, str(tmp_path / "ws"), timeout=30)
    assert proc.returncode == 1
    assert time.monotonic() - started < 20
    assert "orders" in proc.stderr and ("terminal prompts disabled" in proc.stderr or "Authentication" in proc.stderr)


def test_credentials_in_a_url_are_never_printed(tmp_path, meta):
    with password_remote() as url:
        secret_url = url.replace("http://", "http://deploy:hunter2@")
        meta_url = _meta_repo_with(tmp_path, {"orders": secret_url})
        proc = meta("clone", meta_url, str(tmp_path / "ws"), timeout=30)
    assert proc.returncode == 1
    assert "hunter2" not in proc.stderr + proc.stdout


def test_a_hung_remote_times_out(tmp_path, meta):
    with silent_remote() as url:
        meta_url = _meta_repo_with(tmp_path, {"hung": url})
        started = time.monotonic()
        proc = meta("clone", meta_url, str(tmp_path / "ws"), env={"META_GIT_TIMEOUT": "3"}, timeout=60)
    assert proc.returncode == 1
    assert "timed out" in proc.stderr
    assert time.monotonic() - started < 30


def test_transient_network_failures_are_retried(tmp_path, fleet, meta):
    remotes = Path(fleet[len("file://"):]).parent
    with flaky_daemon(remotes, drop_first=1) as (base, connections):
        meta_url = _meta_repo_with(tmp_path, {"orders": f"{base}/orders.git"})
        proc = meta("clone", meta_url, str(tmp_path / "ws"), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert connections[0] >= 2  # the first attempt was dropped, a retry got through
    assert (tmp_path / "ws/orders/Dockerfile").is_file()


def test_ctrl_c_during_clone_ends_the_git_children(tmp_path):
    import signal
    import subprocess
    import sys

    with silent_remote() as url:
        meta_url = _meta_repo_with(tmp_path, {"hung": url, "hung2": url.replace("hung.git", "hung2.git")})
        proc = subprocess.Popen([sys.executable, "-m", "metarepo", "clone", meta_url, str(tmp_path / "ws")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        port = url.split(":")[2].split("/")[0]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(_git_clones_of(port)) < 2:
            time.sleep(0.05)
        assert len(_git_clones_of(port)) == 2
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 130
        time.sleep(0.3)
        assert _git_clones_of(port) == []
        assert "2 interrupted" in err


def _git_clones_of(port: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"git") and b"clone" in cmd and any(port.encode() in c for c in cmd) and state != "Z":
            pids.append(int(entry.name))
    return pids


def test_a_silent_remote_fails_fast_with_the_hint_over_git_and_https(tmp_path, meta):
    with silent_remote() as url:
        https = url.replace("git://", "https://")
        meta_url = _meta_repo_with(tmp_path, {"hung": url, "hung-tls": https})
        started = time.monotonic()
        proc = meta("clone", meta_url, str(tmp_path / "ws"), "--json", env={"META_GIT_IDLE_TIMEOUT": "2"},
                    timeout=120)
    assert proc.returncode == 1
    assert time.monotonic() - started < 30  # the overall limit (META_GIT_TIMEOUT) is still 600 s
    reasons = {p["project"]: p["reason"] for p in json.loads(proc.stdout)["projects"]}
    for name in ("hung", "hung-tls"):
        assert "no answer from the remote for 2s" in reasons[name], reasons
        assert "META_GIT_IDLE_TIMEOUT" in reasons[name] and "META_GIT_TIMEOUT" in reasons[name]
    assert not (tmp_path / "ws/hung").exists() and not [p for p in (tmp_path / "ws").iterdir()
                                                         if ".meta-clone-" in p.name]


def test_a_clone_killed_part_way_never_looks_present(tmp_path, meta):
    import os
    import signal
    import subprocess
    import sys

    with silent_remote() as url:
        meta_url = _meta_repo_with(tmp_path, {"hung": url})
        proc = subprocess.Popen([sys.executable, "-m", "metarepo", "clone", meta_url, str(tmp_path / "ws")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port = url.split(":")[2].split("/")[0]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _git_clones_of(port):
            time.sleep(0.05)
        children = _git_clones_of(port)
        assert children
        os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up: as a power cut or the OOM killer would
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
        ws = tmp_path / "ws"
        assert not (ws / "hung").exists()
        assert [p.name for p in ws.iterdir() if ".meta-clone-" in p.name]  # the hidden leftover
        status = meta("status", "--json", cwd=ws)
        assert json.loads(status.stdout)["projects"][0]["cloned"] is False
        again = meta("update", cwd=ws, env={"META_GIT_IDLE_TIMEOUT": "1"}, timeout=60)
    assert again.returncode == 1 and "no answer from the remote" in again.stderr
    assert not [p for p in ws.iterdir() if ".meta-clone-" in p.name]  # the dead clone's leftover is gone


def test_an_unfinished_clone_from_an_older_meta_is_cloned_again(workspace, fleet, meta):
    orders = workspace / "services/orders"
    url = git("remote", "get-url", "origin", cwd=orders)
    shutil.rmtree(orders)
    git("init", "-q", str(orders), cwd=workspace)  # what an in-place clone killed before its checkout leaves
    git("remote", "add", "origin", url, cwd=orders)
    status = meta("status", "--json", cwd=workspace)
    row = next(p for p in json.loads(status.stdout)["projects"] if p["project"] == "services/orders")
    assert row["cloned"] is False and "clone not finished" in row["error"]
    assert "clone not finished" in meta("status", cwd=workspace).stdout
    skipped = meta("exec", "pwd", "--include-only", "orders", cwd=workspace)
    assert "clone not finished" in skipped.stdout + skipped.stderr
    proc = meta("clone", fleet, str(workspace), "--json")
    assert proc.returncode == 0, proc.stderr
    row = next(p for p in json.loads(proc.stdout)["projects"] if p["project"] == "services/orders")
    assert row["result"] == "cloned again (the last clone had not finished)"
    assert (orders / "Dockerfile").is_file() and git("rev-parse", "HEAD", cwd=orders)


def test_update_redoes_an_unfinished_clone_and_never_one_with_work_in_it(workspace, meta):
    orders = workspace / "services/orders"
    url = git("remote", "get-url", "origin", cwd=orders)
    shutil.rmtree(orders)
    git("init", "-q", str(orders), cwd=workspace)
    git("remote", "add", "origin", url, cwd=orders)
    proc = meta("update", "--include-only", "orders", cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    assert "services/orders: cloned again" in proc.stdout
    assert (orders / "Dockerfile").is_file()
    # a repository with no commit yet but a file in it is somebody's work: left alone
    billing = workspace / "services/billing"
    shutil.rmtree(billing)
    git("init", "-q", str(billing), cwd=workspace)
    (billing / "notes.txt").write_text("mine\n")
    proc = meta("update", "--include-only", "billing", cwd=workspace)
    assert (billing / "notes.txt").read_text() == "mine\n"
    assert proc.returncode == 1 and "no 'origin' remote" in proc.stderr
