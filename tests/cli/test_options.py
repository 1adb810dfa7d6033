"""What a new user meets on the command line: bad values and typos are refused before anything runs."""

from __future__ import annotations

import json

import pytest

from tests.conftest import git


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


@pytest.mark.parametrize("args, message", [
    (("exec", "--tga", "x", "touch ran"), "meta: no such option --tga; did you mean --tag?"),
    (("exec", "touch", "ran", "--stram"), "meta: no such option --stram; did you mean --stream?"),
    (("exec", "touch ran", "--exclude-only", "orders"), "meta: no such option --exclude-only; did you mean --include-only?"),
    (("git", "--exlude", "gateway", "status"), "meta: no such option --exlude; did you mean --exclude?"),
    (("git", "commit", "--allow-empty", "-m", "ran", "--jsn"), "meta: no such option --jsn; did you mean --json?"),
    (("exec", "--frobnicate", "touch ran"), "meta: no such option --frobnicate"),
    (("git", "-x", "commit", "--allow-empty", "-m", "ran"), "meta: no such option -x"),
])
def test_a_mistyped_option_is_refused_before_anything_runs(workspace, meta, args, message):
    head = git("rev-parse", "HEAD", cwd=workspace / "services/orders")
    proc = meta(*args, cwd=workspace)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(message) and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not list(workspace.rglob("ran"))
    assert git("rev-parse", "HEAD", cwd=workspace / "services/orders") == head


def test_the_commands_own_options_and_everything_after_dashes_are_passed_on(workspace, meta):
    def outputs(command, *args):
        proc = meta(command, "--include-only", "orders", "--json", *args, cwd=workspace)
        assert proc.returncode == 0, proc.stderr
        return [p["output"] for p in json.loads(proc.stdout)["projects"]]

    assert outputs("exec", "--", "echo", "--tga", "--json") == ["--tga --json\n"]
    assert outputs("exec", "echo", "--oneline", "--tags", "-h", "-sh", "-jar") == ["--oneline --tags -h -sh -jar\n"]
    assert outputs("exec", "--", "echo", "-j", "4", "--dry-run") == ["-j 4 --dry-run\n"]
    assert outputs("git", "log", "--oneline", "-1", "--format=%s") == ["orders: first version\n"]
    assert outputs("git", "-C", ".", "--no-pager", "log", "--stat", "-1", "--format=%s")[0].startswith(
        "orders: first version\n")
    assert outputs("git", "tag", "--list", "--sort=refname") == [""]


def test_batch_run_takes_the_same_rule_and_its_help_example_stays_whole(meta, tmp_path):
    proc = meta("batch", "run", "-b", "x", "-m", "y", "--tga", "core", "--", "true", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("meta: no such option --tga; did you mean --tag?")
    proc = meta("batch", "run", "--help", cwd=tmp_path)
    assert '    meta batch run -b bump-base -m "Use the new base image" -- \\\n' in proc.stdout
    assert "        sed -i s/alpine:3.19/alpine:3.20/ Dockerfile\n" in proc.stdout
