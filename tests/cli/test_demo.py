"""`make demo`, the first thing a new user runs: it works end to end and leaves the meta repo clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_make_demo_runs_end_to_end_and_leaves_the_meta_repo_clean(tmp_path):
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run(["make", "-o", f"{bin_dir}/meta", "demo", f"DEMO={tmp_path}/demo", f"BIN={bin_dir}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=230)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    workspace = tmp_path / "demo" / "workspace"
    assert (workspace / ".metarepo" / "graph.html").read_text().lstrip().startswith("<!")
    assert "ci check: 5 projects in step" in proc.stderr
    untracked = subprocess.run(["git", "status", "--porcelain"], cwd=workspace, capture_output=True, text=True)
    assert untracked.stdout == ""
