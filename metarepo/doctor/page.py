"""The scorecard as one self-contained HTML page: a service-by-check grid, coloured by state.

Rendered from ``doctor/report.html.j2`` through ``metarepo.templating``
(the sandbox, and the meta repo's ``ci-templates/`` may override it, whole
or block by block) in the HTML dialect: every value a template writes is
escaped for HTML text and double-quoted attributes, so a project named
``<script>...`` shows as text. The page's own script reads the grid from
the page (no data is written into a script) and only ever sets text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metarepo.doctor.model import FAILED, NOT_APPLICABLE, PASSED, Scorecard

TEMPLATE = "doctor/report.html.j2"
_MARK = {PASSED: "✓", FAILED: "✗", NOT_APPLICABLE: "–"}
_CLASS = {PASSED: "pass", FAILED: "fail", NOT_APPLICABLE: "na"}
_WORD = {PASSED: "passes", FAILED: "fails", NOT_APPLICABLE: "does not apply"}


def band(score: int | None) -> str:
    """``good`` (80 and up), ``fair`` (50 and up), ``poor``, or ``none`` (no score)."""
    if score is None:
        return "none"
    return "good" if score >= 80 else "fair" if score >= 50 else "poor"


def report_context(scorecard: Scorecard, title: str, minimum: int | None = None) -> dict[str, Any]:
    """Plain values only (strings, numbers, lists, dicts): what the sandboxed template sees."""
    firsts = {checks[0].id for _, checks in scorecard.groups}
    cards = []
    for card in scorecard.cards:
        results = []
        for r in card.results:
            tip = f"{r.check} {_WORD[r.state]}" + (f": {r.detail}" if r.detail else "")
            results.append({"check": r.check, "state": _CLASS[r.state], "mark": _MARK[r.state], "detail": r.detail,
                            "tip": tip, "first": r.check in firsts})
        score = card.score
        cards.append({"project": card.project, "score": -1 if score is None else score,
                      "score_text": "–" if score is None else f"{score}%", "band": band(score),
                      "passed": card.passed, "applicable": card.applicable, "cloned": card.cloned,
                      "failing": [r for r in results if r["state"] == "fail"],
                      "under": minimum is not None and (score is None or score < minimum), "results": results})
    totals = []
    for check in scorecard.checks:
        states = [r.state for card in scorecard.cards if card.cloned for r in card.results if r.check == check.id]
        good, applicable = states.count(PASSED), len(states) - states.count(NOT_APPLICABLE)
        share = None if applicable == 0 else good * 100 // applicable
        totals.append({"check": check.id, "band": band(share), "text": "–" if share is None else str(share),
                       "tip": f"{check.id}: {good} of {applicable} repositories pass ({check.title})"})
    score = scorecard.score
    return {
        "title": title,
        "score": -1 if score is None else score, "score_text": "–" if score is None else f"{score}%",
        "band": band(score), "passed": scorecard.passed, "applicable": scorecard.applicable,
        "repositories": len(scorecard.cards), "minimum": -1 if minimum is None else minimum,
        "groups": [{"name": group, "checks": [{"id": c.id, "name": c.name, "title": c.title, "custom": c.custom}
                                              for c in checks]} for group, checks in scorecard.groups],
        "cards": cards,
        "totals": totals,
        "failing": sum(1 for c in cards if c["failing"]),
        "notes": list(scorecard.notes),
    }


def render_report(meta_root: Path | None, scorecard: Scorecard, title: str, minimum: int | None = None) -> str:
    from metarepo.templating.escape import Dialect
    from metarepo.templating.render import render_template

    return render_template(meta_root, TEMPLATE, Dialect.HTML, report_context(scorecard, title, minimum),
                           "the scorecard")
