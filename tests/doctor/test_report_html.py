"""`meta doctor --html FILE`: one self-contained page, checked as headless Chromium renders it (its DOM after
its script ran): the grid, the states' classes, names that are text and never markup, the view a link asks for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_meta
from tests.doctor import browser
from tests.doctor.conftest import edit_manifest
from tests.servers.fixtures import require

EVIL = 'services/x<script>document.title="pwned"</script>'
STATE_CLASS = {"pass": "pass", "fail": "fail", "n/a": "na"}


@pytest.fixture(scope="module")
def report(doctor_fleet: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The page and the JSON of one run over a copy of the fleet with a project whose name is markup, and a
    custom check whose line is markup too."""
    require(browser.PACKAGES, "chromium")
    ws = tmp_path_factory.mktemp("report") / "ws"
    shutil.copytree(doctor_fleet, ws, symlinks=True)
    (ws / "services" / "billing" / "LICENSE").write_text("MIT\n")
    shutil.copytree(ws / "services" / "billing", ws / EVIL, symlinks=True)

    def add(data):
        data["projects"][EVIL] = data["projects"]["services/billing"]
        data["metarepo"]["doctor"] = {"checks": [
            {"name": "license", "group": "meta", "run": "test -f LICENSE", "hint": "<img src=x onerror=alert(1)>"}]}

    edit_manifest(ws, add)
    page = ws / ".metarepo" / "doctor.html"
    args = ("-C", str(ws), "doctor", "--include-pattern", "billing|nouser|latest|base|script", "--min-score", "90")
    proc = run_meta(*args, "--html", str(page), "--json")
    assert proc.returncode == 1, proc.stderr  # nouser, latest and the others are under 90
    assert f"wrote {page}" in proc.stderr
    return page, json.loads(proc.stdout)


def test_the_page_is_self_contained(report):
    page, _ = report
    text = page.read_text()
    assert "<style>" in text and "<script>" in text
    for external in ("<link", " src=\"http", "src='http", "@import", "url(http"):
        assert external not in text


def test_the_grid_has_a_row_per_service_and_a_cell_per_check_coloured_by_state(report):
    page, doc = report
    dom = browser.rendered(page)
    rows = [e for e in browser.select(dom, "tr", "service") if e.within("tbody")]
    assert [r.attrs["data-name"] for r in rows] == [p["project"] for p in doc["projects"]]
    checks = [c["id"] for c in doc["checks"]]
    headers = browser.select(dom, "th", "check")
    assert [h.attrs["data-sort"] for h in headers] == checks
    groups = browser.select(dom, "th", "group")
    assert [g.text for g in groups] == list(dict.fromkeys(c["group"] for c in doc["checks"]))
    assert sum(int(g.attrs["colspan"]) for g in groups) == len(checks)
    for row, project in zip(rows, doc["projects"]):
        cells = [c for c in row.children if c.tag == "td" and "cell" in c.classes]
        assert [c.attrs["data-check"] for c in cells] == checks
        for cell, result in zip(cells, project["results"]):
            assert STATE_CLASS[result["state"]] in cell.classes, (project["project"], result)
            assert result["detail"] in cell.attrs["title"]  # the line shows on hover (and on click)
        score = next(c for c in row.children if "score" in c.classes)
        assert score.text == f"{project['score']}%"
        assert ("under" in row.classes) == (project["score"] < 90)
    totals = browser.select(dom, "td", "total")  # the fleet's share passing each check, under the grid
    assert len(totals) == len(checks) and all(t.within("tfoot") for t in totals)
    for n, total in enumerate(totals):
        states = [p["results"][n]["state"] for p in doc["projects"] if p["cloned"]]
        applicable = len(states) - states.count("n/a")
        assert total.text == (str(states.count("pass") * 100 // applicable) if applicable else "–")
    fleet = next(e for e in dom if e.attrs.get("id") == "fleet-score")
    assert fleet.text == f"{doc['score']}%"
    assert next(e for e in dom if e.attrs.get("id") == "shown").text == f"{len(rows)} of {len(rows)} shown"


def test_a_name_or_line_that_is_markup_is_shown_as_text(report):
    page, _ = report
    dom = browser.rendered(page)
    assert [e.text for e in browser.select(dom, "title")] == ["Fleet scorecard: ws"]  # the name's script never ran
    assert len(browser.select(dom, "script")) == 1  # the page's own
    assert not browser.select(dom, "img")
    names = [e.text for e in browser.select(dom, "th", "name")]
    assert EVIL in names
    hints = [e.text for e in browser.select(dom, "li") if e.within("section")]
    assert any("<img src=x onerror=alert(1)>" in hint for hint in hints)


def test_a_link_can_ask_for_a_filtered_and_sorted_view(report):
    page, doc = report
    dom = browser.rendered(page, "filter=NoUser")
    rows = [e for e in browser.select(dom, "tr", "service") if e.within("tbody")]
    assert [r.attrs["data-name"] for r in rows if "hidden" not in r.attrs] == ["services/nouser"]

    dom = browser.rendered(page, "failing=1&sort=score")
    rows = [e for e in browser.select(dom, "tr", "service") if e.within("tbody")]
    visible = [r.attrs["data-name"] for r in rows if "hidden" not in r.attrs]
    failing = sorted(((p["score"], p["project"]) for p in doc["projects"]
                      if any(r["state"] == "fail" for r in p["results"])))
    assert visible == [name for _, name in failing]
    assert "services/billing" not in visible  # it fails nothing
