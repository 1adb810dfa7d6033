"""`meta doctor` over real clones: every check passes on a service built right and fails, with its line, on a
service that gets exactly that one thing wrong; scores, --min-score, not-cloned repositories, selection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import run_meta
from tests.doctor.conftest import doctor_json, edit_manifest
from tests.doctor.services import EXPECTED


@pytest.fixture(scope="module")
def scorecard(doctor_fleet: Path) -> dict:
    proc = run_meta("-C", str(doctor_fleet), "doctor", "--json")
    assert proc.returncode == 0, proc.stderr
    import json

    return json.loads(proc.stdout)


def card(scorecard: dict, service: str) -> dict:
    return next(p for p in scorecard["projects"] if p["project"] == f"services/{service}")


def test_every_check_is_asked_of_every_repository_in_group_order(scorecard):
    ids = [c["id"] for c in scorecard["checks"]]
    groups = list(dict.fromkeys(c["group"] for c in scorecard["checks"]))
    assert groups == ["containerised", "delivery", "contracts", "proxy", "monitoring", "logging", "messaging", "meta"]
    assert len(ids) == 18 and len(set(ids)) == 18
    assert [p["project"] for p in scorecard["projects"]] == [f"services/{s}" for s in EXPECTED]
    for project in scorecard["projects"]:
        assert [r["check"] for r in project["results"]] == ids


@pytest.mark.parametrize("service", list(EXPECTED))
def test_each_service_fails_exactly_what_it_gets_wrong(scorecard, service):
    results = {r["check"]: r for r in card(scorecard, service)["results"]}
    expected = EXPECTED[service]
    for check, result in results.items():
        state, piece = expected.get(check, ("pass", ""))
        assert result["state"] == state, f"{service} {check}: {result}"
        assert piece in result["detail"], f"{service} {check}: {result['detail']!r}"
        if state != "pass":
            assert result["detail"] and "\n" not in result["detail"]  # one line saying what to do, or why


def test_score_is_passed_over_applicable(scorecard):
    for project in scorecard["projects"]:
        states = [r["state"] for r in project["results"]]
        passed, applicable = states.count("pass"), len(states) - states.count("n/a")
        assert (project["passed"], project["applicable"]) == (passed, applicable)
        assert project["score"] == passed * 100 // applicable
    assert card(scorecard, "billing")["score"] == 100 and card(scorecard, "orders")["score"] == 100
    assert card(scorecard, "nouser")["score"] == 17 * 100 // 18
    total = sum(p["passed"] for p in scorecard["projects"]), sum(p["applicable"] for p in scorecard["projects"])
    assert (scorecard["passed"], scorecard["applicable"]) == total
    assert scorecard["score"] == total[0] * 100 // total[1]


def test_table_shows_a_row_per_repository_and_what_to_do(doctor_fleet):
    proc = run_meta("-C", str(doctor_fleet), "doctor", "--include-only", "billing,nouser,latest")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["PROJECT", "SCORE", "CONTAINERISED", "DELIVERY", "CONTRACTS", "PROXY", "MONITORING",
                                "LOGGING", "MESSAGING", "META"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:4]}
    assert list(rows) == ["services/billing", "services/latest", "services/nouser"]
    assert rows["services/billing"] == ["100%", "✓✓✓✓", "✓", "✓✓✓", "✓✓", "✓✓", "✓✓", "✓✓", "✓✓"]
    assert rows["services/nouser"][:2] == ["94%", "✓✓✓✗"] and rows["services/latest"][1] == "✓✓✗✓"
    assert "  ✗ containerised.pinned: pin FROM busybox:latest" in proc.stdout
    assert "doctor: 3 repositories, fleet score" in proc.stderr


def test_min_score_fails_the_run_naming_the_repositories_under_it(doctor_fleet):
    code, doc, _ = doctor_json(doctor_fleet, "--include-only", "billing,orders", "--min-score", "100")
    assert code == 0 and doc["under"] == []
    code, doc, _ = doctor_json(doctor_fleet, "--include-only", "billing,nouser", "--min-score", "95")
    assert code == 1 and doc["under"] == ["services/nouser"] and doc["min_score"] == 95
    proc = run_meta("-C", str(doctor_fleet), "doctor", "--include-only", "billing,nouser", "--min-score", "95")
    assert proc.returncode == 1
    assert "1 under 95: services/nouser (94)" in proc.stderr
    code, _, _ = doctor_json(doctor_fleet, "--include-only", "nouser", "--min-score", "94")
    assert code == 0  # 94 is not under 94
    proc = run_meta("-C", str(doctor_fleet), "doctor", "--min-score", "101")
    assert proc.returncode == 2 and "101" in proc.stderr


def test_a_repository_not_cloned_has_no_score_and_is_under_any_bar(doctor_ws):
    shutil.rmtree(doctor_ws / "services" / "billing")
    code, doc, _ = doctor_json(doctor_ws, "--include-only", "billing,orders", "--min-score", "10")
    billing = next(p for p in doc["projects"] if p["project"] == "services/billing")
    assert billing["cloned"] is False and billing["score"] is None
    assert {r["state"] for r in billing["results"]} == {"n/a"}
    assert "run `meta update`" in billing["results"][0]["detail"]
    assert code == 1 and doc["under"] == ["services/billing"]
    assert doc["score"] == 100  # the fleet's score counts only what could be read
    assert any("services/billing" in note for note in doc["notes"])


def test_the_fleet_wide_settings_fail_every_deployed_repository(doctor_ws):
    def drop(data):
        del data["metarepo"]["environments"]["staging"]["logging"]
        data["metarepo"]["environments"]["staging"]["broker"] = "amqp://somewhere"

    edit_manifest(doctor_ws, drop)
    _, doc, _ = doctor_json(doctor_ws, "--include-only", "billing,base")
    billing = {r["check"]: r for r in doc["projects"][0]["results"]}
    assert billing["logging.shipped"]["state"] == "fail"
    assert "metarepo.environments.staging.logging" in billing["logging.shipped"]["detail"]
    assert billing["messaging.broker"]["state"] == "fail"
    assert "fix metarepo.environments.staging.broker: must be an object" in billing["messaging.broker"]["detail"]
    base = {r["check"]: r for r in doc["projects"][1]["results"]}
    assert base["logging.shipped"]["state"] == "n/a"


def test_contracts_are_judged_against_the_whole_fleet_not_the_selection(doctor_fleet):
    _, doc, _ = doctor_json(doctor_fleet, "--include-only", "pinger")
    results = {r["check"]: r for r in doc["projects"][0]["results"]}
    assert results["contracts.compatible"]["state"] == "fail"  # strict, not selected, still reads its ping


def test_a_second_run_reads_contracts_and_pipelines_from_the_caches(doctor_ws):
    doctor_json(doctor_ws)
    state = doctor_ws / ".metarepo"
    assert (state / "contracts-cache.json").is_file() and (state / "ci-validated.json").is_file()
    (doctor_ws / "services" / "strict" / "contracts.yaml").write_text(
        '{"consumes": {"ping": {"schema": {"type": "object"}}}}\n')
    _, doc, _ = doctor_json(doctor_ws, "--include-only", "pinger,strict")
    assert all(r["state"] != "fail" for p in doc["projects"] for r in p["results"]
               if r["check"] == "contracts.compatible")  # a changed file is read again


def test_an_empty_selection_is_refused(doctor_fleet):
    proc = run_meta("-C", str(doctor_fleet), "doctor", "--tag", "nothing-has-this")
    assert proc.returncode == 2 and "--tag nothing-has-this selects no project" in proc.stderr


def test_a_report_that_cannot_be_written_is_one_line(doctor_fleet, tmp_path):
    target = tmp_path / "no-such-folder" / "report.html"
    proc = run_meta("-C", str(doctor_fleet), "doctor", "--include-only", "billing", "--html", str(target))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == f"meta: {target}: cannot write the report: No such file or directory"
