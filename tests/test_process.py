"""One child process: its own group, output spilled to disk, a timeout that ends the group, no prompts."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from metarepo.process import program, run_captured, run_command


def test_a_program_is_found_once_on_an_absolute_path_only(tmp_path):
    tool = tmp_path / "bin" / "mytool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho hi\n")
    tool.chmod(0o755)
    assert program("mytool", {"PATH": f"/nonexistent:{tool.parent}"}) == str(tool)
    assert program("mytool", {"PATH": f"bin:{tool.parent}"}) is None  # relative entry: the child searches
    assert program("./mytool", {"PATH": str(tool.parent)}) is None
    assert program("no-such-tool", {"PATH": str(tool.parent)}) is None
    result = run_command(["mytool"], cwd=tmp_path, env={"PATH": f"/nonexistent:{tool.parent}"})
    assert result.ok and result.output.read() == b"hi\n"


def test_run_command_captures_output_and_times_out(tmp_path):
    result = run_command(["sh", "-c", "echo hi; echo err >&2; exit 3"], cwd=tmp_path)
    assert result.returncode == 3 and result.output.read() == b"hi\nerr\n" and not result.ok
    result = run_command(["sleep", "30"], cwd=tmp_path, timeout=0.5)
    assert result.timed_out and result.returncode is None and result.seconds < 10


def test_big_output_spills_to_a_file(tmp_path):
    result = run_command(["head", "-c", "3000000", "/dev/zero"], cwd=tmp_path)
    assert result.output.size == 3_000_000
    assert result.output._spill is not None  # not held in memory
    assert sum(len(c) for c in result.output.chunks()) == 3_000_000
    assert result.output.read(limit=10) == b"\0" * 10


def test_children_never_see_a_terminal_prompt(tmp_path):
    result = run_command(["sh", "-c", 'echo "$GIT_TERMINAL_PROMPT"; cat'], cwd=tmp_path)
    assert result.output.read() == b"0\n"  # and stdin is empty, so `cat` did not wait


def test_run_captured_keeps_streams_apart_and_ends_a_hung_group(tmp_path):
    proc = run_captured(["sh", "-c", "printf 'a\\r\\nb\\n'; printf 'oops\\n' >&2; exit 4"], cwd=tmp_path,
                        env=dict(os.environ), timeout=30)
    assert (proc.returncode, proc.stdout, proc.stderr) == (4, "a\nb\n", "oops\n")
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_captured(["sh", "-c", "sleep 30 & sleep 30"], cwd=tmp_path, env=dict(os.environ), timeout=0.3)
    assert time.monotonic() - started < 10


def test_run_captured_hands_over_input_or_nothing(tmp_path):
    proc = run_captured(["sh", "-c", "cat; echo done >&2"], cwd=tmp_path, env=os.environ, timeout=10,
                        input="kind: Deployment\n")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "kind: Deployment\n", "done\n")
    proc = run_captured(["cat"], cwd=tmp_path, env=os.environ, timeout=10)  # no input: empty, not waiting
    assert (proc.returncode, proc.stdout) == (0, "")
    with pytest.raises(subprocess.TimeoutExpired):
        run_captured(["sh", "-c", "cat >/dev/null; sleep 30"], cwd=tmp_path, env=os.environ, timeout=0.5,
                     input="x")


def test_streamed_output_comes_in_runs_of_whole_lines(tmp_path):
    runs: list[bytes] = []
    script = "printf 'one\\ntw'; sleep 0.2; printf 'o\\n'; head -c 200000 /dev/zero | tr '\\0' x; printf '\\nlast'"
    result = run_command(["sh", "-c", script], cwd=tmp_path, on_lines=lambda data, idle: runs.append(data))
    assert result.ok and all(run.endswith(b"\n") for run in runs)
    lines = b"".join(runs).split(b"\n")
    assert lines[:2] == [b"one", b"two"] and lines[-2:] == [b"last", b""]
    long_pieces = lines[2:-2]  # the 200,000-byte line, cut into pieces of at most 128 KiB
    assert b"".join(long_pieces) == b"x" * 200_000 and all(len(piece) <= 1 << 17 for piece in long_pieces)
