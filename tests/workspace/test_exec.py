"""meta exec / meta git: parallel, grouped/streamed/JSON output, timeouts, Ctrl-C, big and odd output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import git


def test_exec_runs_in_every_project_with_meta_variables(workspace, meta):
    proc = meta("exec", 'echo "$META_PROJECT|$META_PROJECT_PATH|$META_PROJECT_URL|$META_ROOT|$PWD"',
                "--json", cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [p["project"] for p in doc["projects"]] == [
        "services/orders", "services/billing", "services/shipping", "services/notifications", "services/gateway"]
    for p in doc["projects"]:
        name, path, url, root, pwd = p["output"].strip().split("|")
        assert name == p["project"] and path == str(workspace / name) == pwd
        assert url.startswith("file://") and url.endswith(name.split("/")[1] + ".git")
        assert root == str(workspace)
        assert p["exit_code"] == 0 and p["status"] == "done" and p["duration"] >= 0
    assert doc["summary"] == {**doc["summary"], "total": 5, "ok": 5, "failed": 0}


def test_project_names_are_never_pasted_into_the_shell(tmp_path, meta):
    from make_fleet import publish

    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    publish(src, tmp_path / "r.git")
    evil = "a$(touch pwned)`touch pwned2`;b"
    (tmp_path / "ws").mkdir()
    meta("init", cwd=tmp_path / "ws")
    assert meta("project", "add", evil, f"file://{tmp_path}/r.git", cwd=tmp_path / "ws").returncode == 0
    assert meta("update", cwd=tmp_path / "ws").returncode == 0
    proc = meta("exec", 'printf "%s" "$META_PROJECT"', "--json", cwd=tmp_path / "ws")
    assert json.loads(proc.stdout)["projects"][0]["output"] == evil
    assert not list((tmp_path / "ws").rglob("pwned*"))


def test_grouped_output_failure_summary_and_exit_status(workspace, meta):
    proc = meta("exec", 'echo "out of $META_PROJECT"; [ "$META_PROJECT" != services/billing ]', cwd=workspace)
    assert proc.returncode == 1
    blocks = proc.stdout.split("services/billing")
    assert "✗ services/billing exit 1" in proc.stdout
    assert "out of services/billing" in proc.stdout  # a failing project's output is always shown
    assert "✓ services/orders" in proc.stdout and len(blocks) >= 2
    last = proc.stderr.strip().splitlines()[-1]
    assert "4 ok" in last and "1 failed (services/billing)" in last


def test_options_after_the_command_as_npm_meta_users_type_them(workspace, meta):
    proc = meta("exec", "pwd", "--include-only", "orders,billing", "--json", cwd=workspace)
    assert [p["project"] for p in json.loads(proc.stdout)["projects"]] == ["services/orders", "services/billing"]
    proc = meta("exec", "pwd", "--exclude", "services/orders", "--parallel", "--json", cwd=workspace)
    assert "services/orders" not in [p["project"] for p in json.loads(proc.stdout)["projects"]]
    proc = meta("exec", "--tag", "core", "--json", "--", "echo", "a b", cwd=workspace)
    doc = json.loads(proc.stdout)
    assert [p["output"] for p in doc["projects"]] == ["a b\n", "a b\n"]


def test_stream_prefixes_live_lines(workspace, meta):
    proc = meta("exec", "echo one; echo two", "--stream", "--include-only", "orders,gateway", cwd=workspace)
    lines = proc.stdout.splitlines()
    assert sorted(lines) == sorted([
        "services/orders  | one", "services/orders  | two", "services/gateway | one", "services/gateway | two"])
    assert "2 ok" in proc.stderr


def test_failed_reruns_only_the_projects_that_failed(workspace, meta):
    meta("exec", '[ "$META_PROJECT" != services/shipping ] && [ "$META_PROJECT" != services/gateway ]',
         cwd=workspace)
    proc = meta("exec", "--failed", "--json", "echo again", cwd=workspace)
    assert [p["project"] for p in json.loads(proc.stdout)["projects"]] == ["services/shipping", "services/gateway"]
    assert proc.returncode == 0
    proc = meta("exec", "--failed", "echo again", cwd=workspace)  # the last run had no failures
    assert proc.returncode == 0 and "no failed projects" in proc.stderr
    assert git("check-ignore", ".metarepo/last-run.json", cwd=workspace)


def test_timeout_kills_the_whole_process_group(workspace, meta, tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    started = time.monotonic()
    proc = meta("exec", f'sleep 300 & echo $! > "{pids}/$(basename $META_PROJECT)"; wait',
                "--timeout", "1", "--include-only", "orders,billing", cwd=workspace, timeout=60)
    assert time.monotonic() - started < 20
    assert proc.returncode == 1
    assert "timed out after 1s" in proc.stdout
    for f in pids.iterdir():
        pid = int(f.read_text())
        assert not _alive(pid), f"grandchild {pid} of {f.name} survived"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text().split()
    return stat[2] != "Z"


def test_ctrl_c_ends_children_and_shows_a_partial_summary(workspace, tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    cmd = f'if [ "$META_PROJECT" = services/orders ]; then exit 0; fi; echo $$ > "{pids}/$(basename $META_PROJECT)"; exec sleep 300'
    proc = subprocess.Popen([sys.executable, "-m", "metarepo", "exec", cmd, "-j", "5"], cwd=workspace,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 20
    while len(list(pids.iterdir())) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(pids.iterdir())) == 4
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "interrupted" in err and "1 ok" in err.splitlines()[-1]
    time.sleep(0.2)
    for f in pids.iterdir():
        assert not _alive(int(f.read_text())), f"{f.name} outlived Ctrl-C"


def test_dry_run_lists_and_runs_nothing(workspace, meta):
    proc = meta("exec", "touch ran", "--dry-run", cwd=workspace)
    assert proc.returncode == 0
    assert "services/orders: touch ran" in proc.stdout
    assert not list(workspace.rglob("ran"))


def test_include_root_also_runs_in_the_meta_repo(workspace, meta):
    proc = meta("exec", "test -f .meta && echo root", "--include-root", "--json", cwd=workspace)
    doc = json.loads(proc.stdout)
    assert doc["projects"][0]["project"] == "." and doc["projects"][0]["output"] == "root\n"


def test_missing_clone_is_skipped_not_failed(workspace, meta):
    import shutil

    shutil.rmtree(workspace / "services/gateway")
    proc = meta("exec", "true", cwd=workspace)
    assert proc.returncode == 0
    assert "1 skipped (services/gateway)" in proc.stderr


def test_output_that_is_not_utf8(workspace, meta):
    proc = subprocess.run([sys.executable, "-m", "metarepo", "exec", r"printf 'caf\351 \377\n'",
                           "--include-only", "orders"], cwd=workspace, capture_output=True)
    assert proc.returncode == 0
    assert b"caf\xe9 \xff\n" in proc.stdout  # passed through untouched
    proc = subprocess.run([sys.executable, "-m", "metarepo", "exec", r"printf 'caf\351'", "--json",
                           "--include-only", "orders"], cwd=workspace, capture_output=True)
    assert json.loads(proc.stdout)["projects"][0]["output"] == "caf\ufffd"


@pytest.mark.timeout(120)
def test_one_project_printing_100_mb_keeps_memory_flat(workspace, tmp_path):
    # `head -c` writes 100 MB; meta's own peak RSS must stay far below that.
    code = ("import resource, subprocess, sys;"
            "p = subprocess.run([sys.executable, '-m', 'metarepo', 'exec', 'head -c 100000000 /dev/zero',"
            " '--include-only', 'orders,billing'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], cwd=workspace, capture_output=True, text=True).stdout
    rc, maxrss_kib = map(int, out.split())
    assert rc == 0
    assert maxrss_kib < 80 * 1024, f"peak RSS {maxrss_kib} KiB"


def test_meta_git_passes_args_and_takes_our_flags_anywhere(workspace, meta):
    proc = meta("git", "log", "-1", "--format=%s", "--include-only", "orders,billing", "--json", cwd=workspace)
    doc = json.loads(proc.stdout)
    assert [p["output"] for p in doc["projects"]] == ["orders: first version\n", "billing: first version\n"]
    assert doc["command"] == "git log -1 --format=%s"
    proc = meta("git", "--include-only", "orders", "--", "log", "--exclude=x", "-1", "--format=%an", cwd=workspace)
    assert "Fleet Maker" in proc.stdout
    proc = meta("git", "no-such-command", cwd=workspace)
    assert proc.returncode == 1 and "5 failed" in proc.stderr


def test_json_streams_big_output_from_disk(workspace, meta):
    proc = meta("exec", "head -c 3000000 /dev/zero | tr '\\0' 'x'; printf 'caf\\303\\251'", "--json",
                "--include-only", "orders", cwd=workspace)
    out = json.loads(proc.stdout)["projects"][0]["output"]
    assert len(out) == 3_000_004 and out.endswith("xcafé")  # a UTF-8 sequence split across chunks survives


def test_a_plain_command_runs_without_a_shell_and_anything_else_with_one():
    from metarepo.workspace.execute import direct_argv, shell_argv

    assert direct_argv(shell_argv("git status --short")) == ["git", "status", "--short"]
    assert direct_argv(shell_argv("  make -C build test  ")) == ["make", "-C", "build", "test"]
    assert direct_argv(shell_argv("git -c core.pager=cat log -1")) == ["git", "-c", "core.pager=cat", "log", "-1"]
    for needs_the_shell in ['echo "$META_PROJECT"', "git status | head", "ls *.py", "cd src", "exit 3",
                            "A=1 make", "make && make test", "echo ~", "true", "git log # comment",
                            "printf 'a b'", "make\nmake test", "", "ls >out", "[ -f x ]"]:
        assert direct_argv(shell_argv(needs_the_shell)) is None, needs_the_shell
    assert direct_argv(["git", "status"]) is None  # `meta git`: already no shell


def test_a_plain_command_the_kernel_cannot_start_goes_to_the_shell(workspace, meta):
    script = workspace / "no-shebang"
    script.write_text('echo "script in $META_PROJECT"\n')
    script.chmod(0o755)
    proc = meta("exec", str(script), "--include-only", "orders", "--json", cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["projects"][0]["output"] == "script in services/orders\n"
    proc = meta("exec", "no-such-program --flag", "--include-only", "orders", "--json", cwd=workspace)
    project = json.loads(proc.stdout)["projects"][0]
    assert proc.returncode == 1 and project["exit_code"] == 127 and "not found" in project["output"]
    proc = meta("exec", "env", "--include-only", "orders", "--json", cwd=workspace)  # run directly
    env = dict(line.split("=", 1) for line in json.loads(proc.stdout)["projects"][0]["output"].splitlines()
               if "=" in line)
    assert env["PWD"] == str(workspace / "services/orders") and env["META_PROJECT"] == "services/orders"


def test_stream_writes_in_batches_not_once_per_line(workspace):
    """20,000 short lines: a write (and flush) per line was 20,000 system calls; batches are a few dozen."""
    code = ("import sys\nfrom metarepo.cli.main import main\n"
            "try:\n    main(['exec', 'seq 20000', '--stream', '--include-only', 'orders,billing'])\n"
            "except SystemExit as exc:\n    status = exc.code\n"
            "sys.stdout.flush()\n"
            "writes = next(int(l.split()[1]) for l in open('/proc/self/io') if l.startswith('syscw'))\n"
            "print(status, writes, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=workspace, capture_output=True, text=True)
    status, writes = map(int, proc.stderr.strip().splitlines()[-1].split())
    assert status == 0
    lines = proc.stdout.splitlines()
    assert len(lines) == 40_000
    assert [line for line in lines if line.startswith("services/orders  | ")][-1] == "services/orders  | 20000"
    assert writes < 2_000, f"{writes} writes"


def test_stream_keeps_lines_whole_while_another_project_prints(workspace, meta):
    proc = meta("exec", 'printf "start of $(basename $META_PROJECT) "; sleep 0.5; echo "end"; printf "no newline"',
                "--stream", "--include-only", "orders,billing", cwd=workspace)
    assert sorted(proc.stdout.splitlines()) == [
        "services/billing | no newline", "services/billing | start of billing end",
        "services/orders  | no newline", "services/orders  | start of orders end"]


ALL = ["services/orders", "services/billing", "services/shipping", "services/notifications", "services/gateway"]


def test_ordered_keeps_grouped_blocks_in_manifest_order(workspace, meta):
    slow_first = 'if [ "$META_PROJECT" = services/orders ]; then sleep 1; fi; echo "out of $META_PROJECT"'
    heads = lambda out: [line.split()[1] for line in out.splitlines() if line[:1] in "✓✗-"]  # noqa: E731
    proc = meta("exec", slow_first, "-j", "5", cwd=workspace)
    assert heads(proc.stdout)[-1] == "services/orders"  # as they end
    proc = meta("exec", slow_first, "-j", "5", "--ordered", cwd=workspace)
    assert proc.returncode == 0 and heads(proc.stdout) == ALL
    assert proc.stdout.splitlines()[1] == "out of services/orders"
    proc = meta("exec", "true", "--ordered", "--stream", cwd=workspace)
    assert proc.returncode == 2


def test_ordered_blocks_wait_on_disk_past_their_memory_budget(monkeypatch, tmp_path):
    import io

    from metarepo.cli import blocks
    from metarepo.cli.app import Application
    from metarepo.process import run_command
    from metarepo.runner import run_parallel

    monkeypatch.setattr(blocks, "_WAITING_IN_MEMORY", 100_000)
    out = io.BytesIO()
    ordered = blocks.OrderedBlocks(Application(), out, ["a", "b", "c", "d"])
    sizes = {"a": 10, "b": 60_000, "c": 60_000, "d": 300_000}

    def work(key):
        if key == "a":
            time.sleep(1)
        return run_command(["head", "-c", str(sizes[key]), "/dev/zero"], cwd=tmp_path)

    run_parallel(list(sizes), work, jobs=4, on_outcome=ordered.add)
    assert ordered._spill is not None and ordered._in_memory <= 100_000  # c or d waited on disk
    ordered.finish()
    text = out.getvalue()
    assert [line.split()[1] for line in text.split(b"\n") if line[:1] == b"\xe2"] == [b"a", b"b", b"c", b"d"]
    assert len(text) == sum(sizes.values()) + 4 * len(b"\xe2\x9c\x93 x 0.00s\n") + 4  # each output ends in \n
