"""`meta release plan` on the example fleet's release history, and the contracts gate in a train."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, run_meta
from tests.release.test_apply import snapshot


def plan(root: Path, *args: str) -> tuple[int, dict]:
    proc = run_meta("release", "plan", "--json", *args, cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_versions_changelogs_verdicts_and_order_of_the_demo_fleet(history_workspace: Path) -> None:
    code, doc = plan(history_workspace, "--to", "staging")
    assert code == 0
    found = {r["project"]: r for r in doc["releases"]}
    assert {k: (v["current"], v["version"], v["bump"]) for k, v in found.items()} == {
        "services/orders": ("1.4.2", "1.5.0", "minor"),
        "services/billing": ("0.9.1", "0.10.0", "major"),  # breaking while 0.x: a minor step
        "services/shipping": ("2.0.0", "2.0.1", "patch"),
        "services/gateway": (None, "0.1.0", "minor"),  # a first release
    }
    assert found["services/shipping"]["unparsed"] == 1
    assert "### Other changes\n\n- Update README (" in found["services/shipping"]["changelog"]
    billing = found["services/billing"]["changelog"]
    assert "### Breaking changes\n\n- **invoices:** totals in minor units: an invoice total is an integer" in billing
    orders = found["services/orders"]
    assert orders["contracts"]["answer"] == "no" and orders["contracts"]["breaking"] == []
    assert "customerEmail" in orders["contracts"]["already_breaking"][0]  # the fleet's breaking pair: not new
    assert doc["unchanged"] == [{"project": "services/notifications",
                                 "reason": "2 commit(s) since v1.1.0, none that releases (chore, docs)"}]
    assert doc["order_from"] == "contracts" and doc["blocked"] is None
    assert doc["order"] == ["services/orders", "services/billing", "services/shipping", "services/gateway"]
    assert git("status", "--porcelain", cwd=history_workspace) == ""  # it wrote nothing


def _drop_currency(root: Path) -> None:
    """orders stops promising a currency, which billing (live in staging) requires: a breaking change."""
    orders = root / "services/orders"
    schema = json.loads((orders / "schemas/order-created.json").read_text())
    schema["required"].remove("currency")
    (orders / "schemas/order-created.json").write_text(json.dumps(schema, indent=2) + "\n")
    git("commit", "-qam", "fix: currency is optional", cwd=orders)
    git("push", "-q", "origin", "master", cwd=orders)


def test_a_change_the_gate_calls_breaking_is_a_major_bump_whatever_the_commit_said(history_workspace: Path) -> None:
    _drop_currency(history_workspace)
    code, doc = plan(history_workspace, "--to", "staging", "--include-only", "orders")
    (orders,) = doc["releases"]
    assert (orders["bump"], orders["version"]) == ("major", "2.0.0")  # a fix: and feat: said minor
    assert "order.created: services/orders -> services/billing breaks against staging" in orders["reasons"][0]
    assert "### Breaking changes\n\n- **contracts:** order.created" in orders["changelog"]
    shown = run_meta("release", "plan", "--to", "staging", "--include-only", "orders", cwd=history_workspace)
    assert "services/orders: major because the contracts gate calls a change breaking" in shown.stderr
    assert code == 1 and "no safe order" in doc["blocked"]  # and there is no safe order for it either


def test_a_contract_gate_that_says_no_tags_nothing(history_workspace: Path) -> None:
    _drop_currency(history_workspace)
    before = snapshot(history_workspace)
    proc = run_meta("release", "apply", "--to", "staging", cwd=history_workspace)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.startswith("meta: the contracts gate says no, nothing was tagged: no safe order")
    assert proc.stderr.count("\n") == 1
    assert snapshot(history_workspace) == before
    assert not (history_workspace / "releases").exists()


def test_without_an_environment_the_gate_is_not_asked(history_workspace: Path) -> None:
    code, doc = plan(history_workspace)
    assert code == 0 and all(r["contracts"] is None for r in doc["releases"])
    assert doc["order_from"] == "manifest" and "no --to ENV" in doc["notes"][0]
    shown = run_meta("release", "plan", cwd=history_workspace)
    assert "services/orders" in shown.stdout and "## 1.5.0" not in shown.stdout and "### Features" in shown.stdout
