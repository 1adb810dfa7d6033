"""The one output object: JSON compact for programs and indented for a person, lines in one shape."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

from metarepo.cli.app import Application
from metarepo.runner import Failed, Skip, run_parallel


def _on_a_terminal(args, cwd) -> str:
    """stdout of `meta ARGS` when stdout is a real terminal (a pty)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "metarepo", *args], cwd=cwd, stdout=follower,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    proc.wait(timeout=60)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_exec_json_is_compact_in_a_pipe_and_indented_on_a_terminal(workspace, meta):
    args = ("exec", "printf 'caf\\303\\251'", "--json", "--include-only", "orders,billing")
    piped = meta(*args, cwd=workspace).stdout
    assert piped.count("\n") == 1 and json.loads(piped)["projects"][0]["output"] == "café"
    shown = _on_a_terminal(args, workspace)
    assert shown.startswith('{\n  "command": ') and '\n      "output": "café"' in shown
    assert [p["project"] for p in json.loads(shown)["projects"]] == ["services/orders", "services/billing"]


def test_outcome_lines_and_summary_have_one_shape(capsys):
    def work(item):
        if item == "b":
            raise Skip("not cloned")
        if item == "c":
            raise Failed("exit 2")
        return item.upper()

    run = run_parallel(["a", "b", "c"], work, jobs=1)
    app = Application()
    app.outcomes(run, lambda value: f"made {value}")
    app.failures(run)
    app.summary("demo", run)
    out, err = capsys.readouterr()
    assert out == "✓ a: made A\n- b: skipped, not cloned\n✗ c: exit 2\n"
    assert err.splitlines()[:2] == ["- b: skipped, not cloned", "✗ c: exit 2"]
    assert err.splitlines()[2].startswith("demo: 1 ok, 1 failed (c), 1 skipped (b) · ")
    assert app.exit_status(run) == 1
