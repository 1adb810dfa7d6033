"""can-i-deploy before anything runs: a counterpart with no record in the environment cannot be broken.

A brand-new fleet's first deploys must pass the gate one by one (nothing is
recorded yet), and the gate must still hold from the second deploy on. A
record that exists but cannot be read stays "unknown".
"""

from __future__ import annotations

import json
import shutil

from .test_commands import git


def can_i_deploy(meta, workspace, service: str) -> tuple[int, dict]:
    proc = meta("contracts", "can-i-deploy", service, "--to", "staging", "--json", cwd=workspace)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_the_first_deploy_of_a_new_fleet_passes_and_the_next_is_still_checked(meta, workspace):
    assert not (workspace / "environments").exists()
    # orders' new order.created breaks notifications, but notifications runs nowhere yet
    status, doc = can_i_deploy(meta, workspace, "orders")
    assert status == 0 and doc["answer"] == "yes" and doc["pairs"] == [] and doc["unknown"] == []
    assert doc["not_deployed"] == ["services/billing", "services/shipping", "services/notifications"]
    text = meta("contracts", "can-i-deploy", "orders", "--to", "staging", cwd=workspace).stdout
    assert text.startswith("yes: services/orders to staging")
    assert "not deployed in staging yet, checked when they deploy: services/billing, services/shipping, " \
           "services/notifications" in text

    assert meta("contracts", "record-deployment", "orders", "--env", "staging", "--sha", "HEAD",
                cwd=workspace).returncode == 0
    status, doc = can_i_deploy(meta, workspace, "notifications")  # now orders runs: the broken pair is caught
    assert status == 1 and doc["answer"] == "no"
    assert [(p["producer"], p["compatible"]) for p in doc["pairs"]] == [("services/orders", False)]
    assert doc["not_deployed"] == ["services/shipping"]
    status, doc = can_i_deploy(meta, workspace, "billing")  # reads orders fine; its own consumers run nowhere
    assert status == 0 and doc["answer"] == "yes" and doc["not_deployed"] == ["services/shipping"]


def test_a_record_that_cannot_be_read_is_still_unknown(meta, workspace):
    state = workspace / "environments" / "staging.json"
    assert meta("contracts", "record-deployment", "notifications", "--env", "staging", "--sha", "HEAD",
                cwd=workspace).returncode == 0
    data = json.loads(state.read_text())
    data["services"]["services/notifications"]["sha"] = "0" * 40  # a commit this clone does not have
    state.write_text(json.dumps(data, indent=2) + "\n")
    status, doc = can_i_deploy(meta, workspace, "orders")
    assert status == 1 and doc["answer"] == "unknown"
    assert [u["service"] for u in doc["unknown"]] == ["services/notifications"]
    assert "cannot read its contracts at 000000000000" in doc["unknown"][0]["reason"]

    data["services"]["services/notifications"]["sha"] = git("rev-parse", "HEAD", cwd=workspace / "services/orders")
    state.write_text(json.dumps(data, indent=2) + "\n")
    shutil.rmtree(workspace / "services/notifications")  # recorded, so it runs there, but not cloned here
    status, doc = can_i_deploy(meta, workspace, "orders")
    assert status == 1 and doc["answer"] == "unknown"
    assert doc["unknown"] == [{"service": "services/notifications", "reason": "not cloned here (run `meta update`)"}]
