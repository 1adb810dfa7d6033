"""What a new user meets on the command line: bad values and typos are refused before anything runs."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "1e400", "0", "-1", "soon"])
def test_a_timeout_must_be_a_finite_number_of_seconds(meta, tmp_path, value):
    for command in (("exec", "--timeout", value, "true"), ("batch", "run", "-b", "x", "-m", "y", "--timeout", value,
                                                          "--", "true")):
        proc = meta(*command, cwd=tmp_path)
        assert proc.returncode == 2, (command, proc.stderr)
        assert "Invalid value for '--timeout'" in proc.stderr and "Traceback" not in proc.stderr


def test_a_selection_that_matches_nothing_is_refused_naming_the_flag(workspace, meta):
    proc = meta("exec", "--tag", "nosuch", "touch ran", cwd=workspace)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "meta: --tag nosuch selects no project (tags in .meta: backend, core, edge)"
    proc = meta("git", "status", "--tag", "core", "--include-pattern", "gateway", cwd=workspace)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "meta: --include-pattern gateway and --tag core together select no project"
    proc = meta("status", "--exclude-pattern", ".", cwd=workspace)
    assert proc.returncode == 2 and proc.stderr.strip() == "meta: --exclude-pattern . selects no project"
    assert not list(workspace.rglob("ran"))


def test_an_empty_fleet_is_a_message_not_an_error(tmp_path, meta):
    assert meta("init", cwd=tmp_path).returncode == 0
    for args in (("exec", "true"), ("exec", "--tag", "core", "true"), ("git", "status")):
        proc = meta(*args, cwd=tmp_path)
        assert proc.returncode == 0 and "no projects in .meta yet" in proc.stderr, args
