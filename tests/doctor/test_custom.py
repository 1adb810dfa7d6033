"""A meta repo's own checks (metarepo.doctor.checks in .meta): run in every repository through the runner,
exit 0 passes, a time limit, the project in the environment; a malformed one is one line naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_meta
from tests.doctor.conftest import doctor_json, edit_manifest


def with_checks(root: Path, checks) -> None:
    def change(data):
        data["metarepo"]["doctor"] = {"checks": checks}

    edit_manifest(root, change)


def results(doc: dict, check: str) -> dict[str, dict]:
    return {p["project"]: next(r for r in p["results"] if r["check"] == check) for p in doc["projects"]}


def test_custom_checks_pass_fail_and_time_out_in_every_repository(doctor_ws):
    (doctor_ws / "services" / "billing" / "LICENSE").write_text("MIT\n")
    with_checks(doctor_ws, [
        {"name": "license", "group": "meta", "run": "test -f LICENSE", "hint": "add a LICENSE file"},
        {"name": "readme", "run": "grep -q '^# ' README.md"},
        {"name": "says-why", "group": "quality", "run": "echo checking; echo \"$META_PROJECT has no owner\"; exit 3"},
        {"name": "slow", "group": "quality", "run": "sleep 30", "timeout": 0.5},
        {"name": "env", "group": "quality",
         "run": 'test "$PWD" = "$META_PROJECT_PATH" && test "$META_ROOT" = "$(cd ../.. && pwd)" '
                '&& test -n "$META_PROJECT_URL"'},
    ])
    code, doc, _ = doctor_json(doctor_ws, "--include-only", "billing,orders")
    assert code == 0
    ids = [c["id"] for c in doc["checks"]]
    # a custom check in an architecture group goes last in that group; new groups come after the architecture's
    assert ids.index("meta.license") == ids.index("meta.branch") + 1
    assert ids[-4:] == ["custom.readme", "quality.says-why", "quality.slow", "quality.env"]
    assert next(c for c in doc["checks"] if c["id"] == "meta.license")["custom"] is True

    license = results(doc, "meta.license")
    assert license["services/billing"]["state"] == "pass"
    assert license["services/orders"] == {"check": "meta.license", "state": "fail", "detail": "add a LICENSE file"}
    assert {r["state"] for r in results(doc, "custom.readme").values()} == {"pass"}
    says = results(doc, "quality.says-why")
    assert says["services/orders"]["detail"] == "services/orders has no owner"  # the last line of its output
    slow = results(doc, "quality.slow")
    assert all(r["state"] == "fail" and r["detail"].startswith("timed out after 0.5s") for r in slow.values())
    assert {r["state"] for r in results(doc, "quality.env").values()} == {"pass"}
    orders = next(p for p in doc["projects"] if p["project"] == "services/orders")
    assert orders["applicable"] == 18 + 4 and orders["passed"] == 17 + 2  # custom checks count in the score


def test_a_failing_command_without_output_or_hint_says_its_exit_status(doctor_ws):
    with_checks(doctor_ws, [{"name": "quiet", "run": "exit 4"}])
    _, doc, _ = doctor_json(doctor_ws, "--include-only", "billing")
    assert results(doc, "custom.quiet")["services/billing"]["detail"] == "`exit 4` exited 4"


@pytest.mark.parametrize("checks, key, words", [
    ("test -f LICENSE", "metarepo.doctor.checks", "must be a list"),
    (["test -f LICENSE"], "metarepo.doctor.checks[0]", "must be an object"),
    ([{"run": "true"}], "metarepo.doctor.checks[0].name", "needs a name"),
    ([{"name": "a b", "run": "true"}], "metarepo.doctor.checks[0].name", "needs a name"),
    ([{"name": "ok", "run": "true"}, {"name": "x"}], "metarepo.doctor.checks[1].run", "the shell command"),
    ([{"name": "x", "run": ["test", "-f"]}], "metarepo.doctor.checks[0].run", "the shell command"),
    ([{"name": "x", "run": "true", "timeout": 0}], "metarepo.doctor.checks[0].timeout", "seconds above 0"),
    ([{"name": "x", "run": "true", "timeout": "5"}], "metarepo.doctor.checks[0].timeout", "seconds above 0"),
    ([{"name": "x", "run": "true", "group": "a.b"}], "metarepo.doctor.checks[0].group", "group name"),
    ([{"name": "x", "run": "true", "command": "y"}], "metarepo.doctor.checks[0]", "unknown key 'command'"),
    ([{"name": "tags", "group": "meta", "run": "true"}], "metarepo.doctor.checks[0].name", "meta.tags is already"),
    ([{"name": "x", "run": "true"}, {"name": "x", "run": "false"}], "metarepo.doctor.checks[1].name",
     "custom.x is already"),
])
def test_a_malformed_custom_check_is_one_line_naming_the_key(doctor_ws, checks, key, words):
    with_checks(doctor_ws, checks)
    proc = run_meta("-C", str(doctor_ws), "doctor")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert f".meta: {key}: " in lines[0] and words in lines[0], lines[0]
    assert proc.stdout == ""


def test_a_malformed_custom_check_stops_the_run_before_anything_runs(doctor_ws):
    marker = doctor_ws / "ran"
    with_checks(doctor_ws, [{"name": "first", "run": f"touch '{marker}'"}, {"name": "second"}])
    proc = run_meta("-C", str(doctor_ws), "doctor")
    assert proc.returncode == 2 and "metarepo.doctor.checks[1].run" in proc.stderr
    assert not marker.exists()


def test_the_doctor_setting_must_be_an_object(doctor_ws):
    edit_manifest(doctor_ws, lambda data: data["metarepo"].__setitem__("doctor", ["x"]))
    proc = run_meta("-C", str(doctor_ws), "doctor")
    assert proc.returncode == 2 and "metarepo.doctor: must be an object" in proc.stderr


def test_the_example_manifest_documents_checks_that_load(tmp_path):
    import shutil

    from metarepo.doctor.checks import BUILTIN
    from metarepo.doctor.custom import custom_checks
    from metarepo.manifest import load_manifest
    from tests.conftest import ROOT

    shutil.copy(ROOT / ".meta.example", tmp_path / ".meta")
    checks = custom_checks(load_manifest(tmp_path), BUILTIN)
    assert [c.check.id for c in checks] == ["meta.license", "quality.lint"]
    assert checks[0].timeout == 10 and checks[0].hint == "add a LICENSE file"


def test_ctrl_c_during_custom_checks_ends_them_and_shows_no_scorecard(doctor_ws, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    pids = tmp_path / "pids"
    pids.mkdir()
    with_checks(doctor_ws, [{"name": "hang", "run": f'echo $$ > "{pids}/$(basename "$META_PROJECT")"; exec sleep 300'}])
    proc = subprocess.Popen([sys.executable, "-m", "metarepo", "-C", str(doctor_ws), "doctor", "-j", "2",
                             "--include-only", "billing,orders"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(pids.iterdir())) == 2
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and out == ""
    assert err.strip().splitlines()[-1].startswith("meta: interrupted")
    time.sleep(0.2)
    for f in pids.iterdir():
        pid = int(f.read_text())
        alive = os.path.exists(f"/proc/{pid}") and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        assert not alive, f"{f.name}'s check outlived Ctrl-C"
