"""The commands end to end on the example fleet (`meta clone` of it), run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from .schemas import assert_example

ORDERS = "services/orders"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def check_json(meta, root: Path, *args: str) -> tuple[int, dict]:
    proc = meta("contracts", "check", "--json", *args, cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def edit_yaml(file: Path, change) -> None:
    document = yaml.safe_load(file.read_text())
    change(document)
    file.write_text(yaml.safe_dump(document, sort_keys=False))


def test_check_shows_the_fleets_one_breaking_pair_with_a_proven_example(meta, workspace):
    proc = meta("contracts", "check", cwd=workspace)
    assert proc.returncode == 1
    assert proc.stdout.count("BREAKING") == 1
    assert "required_property_added" in proc.stdout and "example" in proc.stdout
    assert "8 pairs, 1 breaking" in proc.stderr

    proc = meta("contracts", "check", "--json", cwd=workspace)
    assert proc.stdout.count("\n") == 1  # compact for a program reading it
    status, doc = check_json(meta, workspace)
    assert status == 1 and doc["ok"] is False
    assert len(doc["pairs"]) == 8
    broken = [p for p in doc["pairs"] if not p["compatible"]]
    assert [(p["message"], p["producer"], p["consumer"]) for p in broken] == [
        ("order.created", ORDERS, "services/notifications")]
    pair = broken[0]
    assert {"message", "producer", "consumer", "compatible", "changes", "example"} <= set(pair)
    assert {"path", "kind", "breaking", "message"} <= set(pair["changes"][0])
    # The example is real: orders' schema accepts it, notifications' rejects it.
    orders = workspace / ORDERS / "schemas"
    writer = json.loads((orders / "order-created.json").read_text())
    writer["properties"]["items"]["items"] = json.loads((orders / "common.json").read_text())["$defs"]["lineItem"]
    reader = yaml.safe_load((workspace / "services/notifications/contracts.yaml").read_text())
    assert_example(pair["example"], writer, reader["consumes"]["order.created"]["schema"])
    # Avro pairs (billing -> orders, billing -> shipping) are checked and fit.
    avro = [p for p in doc["pairs"] if p["channel"] == "payment.settled"]
    assert len(avro) == 2 and all(p["compatible"] for p in avro)


def test_check_selection_and_unpublished_messages(meta, workspace):
    status, doc = check_json(meta, workspace, "--include-only", "notifications,gateway")
    assert status == 1 and doc["pairs"] == []
    assert {"channel": "order.created", "message": "order.created", "consumer": "services/notifications"} \
        in doc["unpublished"]
    status, doc = check_json(meta, workspace, "--exclude", "notifications")
    assert status == 0 and doc["ok"] is True


def test_check_against_a_ref_checks_every_rollout_combination(meta, workspace):
    # orders renames `total` to `amount` in its work tree; billing (unchanged) still requires `total`.
    file = workspace / ORDERS / "schemas/order-created.json"
    schema = json.loads(file.read_text())
    schema["properties"]["amount"] = schema["properties"].pop("total")
    schema["required"] = [("amount" if n == "total" else n) for n in schema["required"]]
    file.write_text(json.dumps(schema))
    status, doc = check_json(meta, workspace, "--against", "HEAD")
    assert status == 1
    billing = [p for p in doc["pairs"] if p["message"] == "order.created" and p["consumer"] == "services/billing"]
    versions = {(p["producer_version"], p["compatible"]) for p in billing}
    assert ("working tree", False) in versions and ("HEAD", True) in versions
    bad = next(p for p in billing if not p["compatible"])
    assert "total" not in bad["example"]
    proc = meta("contracts", "check", "--against", "no-such-ref", cwd=workspace)
    # The ref is what is wrong, not the one repository that happened to be asked first.
    assert proc.returncode == 2 and "no repository has a commit 'no-such-ref'" in proc.stderr


def test_check_against_a_ref_that_only_some_repos_have_checks_the_others_as_new(meta, workspace):
    for name in (ORDERS, "services/billing"):
        subprocess.run(["git", "tag", "v1"], cwd=workspace / name, check=True)
    file = workspace / ORDERS / "schemas/order-created.json"  # orders gains an optional field since v1
    schema = json.loads(file.read_text())
    schema["properties"]["note"] = {"type": "string"}
    file.write_text(json.dumps(schema))
    status, doc = check_json(meta, workspace, "--against", "v1")
    assert "services/gateway: no commit 'v1', checked as a new service (no old version)" in doc["notes"]
    old = {(p["producer"], p["producer_version"]) for p in doc["pairs"]} | \
        {(p["consumer"], p["consumer_version"]) for p in doc["pairs"]}
    assert (ORDERS, "v1") in old  # its old version is checked against the new consumers
    assert not [name for name, version in old if version == "v1" and name not in (ORDERS, "services/billing")]
    assert status == 1 and {(p["producer"], p["consumer"]) for p in doc["pairs"] if not p["compatible"]} == \
        {(ORDERS, "services/notifications")}  # the fleet's one breaking pair, and nothing else


def test_graph_in_every_format(meta, workspace, tmp_path):
    proc = meta("graph", cwd=workspace)
    assert proc.returncode == 0
    assert "order.created: services/orders -> services/billing, services/shipping, services/notifications ✗" in proc.stdout
    doc = json.loads(meta("graph", "--format", "json", cwd=workspace).stdout)
    assert set(doc["services"]) == {ORDERS, "services/billing", "services/shipping", "services/notifications",
                                    "services/gateway"}
    red = [e for e in doc["edges"] if e["breaking"]]
    assert {(e["from"], e["to"]) for e in red} == {(ORDERS, "order.created"), ("order.created", "services/notifications")}
    assert "color=red" in meta("graph", "--format", "dot", cwd=workspace).stdout
    assert "linkStyle" in meta("graph", "--format", "mermaid", cwd=workspace).stdout
    out = tmp_path / "graph.html"
    proc = meta("graph", "--format", "html", "-o", str(out), cwd=workspace)
    assert proc.returncode == 0 and proc.stdout == ""
    html = out.read_text()
    assert "<svg" in html and "#d11" in html and "order.created" in html
    assert "Breaking pairs" in html and "customerEmail" in html and "ord-0" in html
    assert "<script" not in html and "src=" not in html and "<link" not in html and "@import" not in html
    affected = meta("graph", "--affected-by", "shipping", cwd=workspace).stdout.split()
    assert affected == ["services/gateway", "services/notifications", "services/orders", "services/billing"] or \
        set(affected) == {"services/gateway", "services/notifications", "services/orders", "services/billing"}
    assert "nothing downstream" in meta("graph", "--affected-by", "gateway", cwd=workspace).stdout
    assert meta("graph", "--format", "svg", cwd=workspace).returncode == 2


def test_record_deployment_and_can_i_deploy(meta, workspace):
    for name in ("orders", "billing", "shipping", "gateway"):
        proc = meta("contracts", "record-deployment", name, "--env", "staging", "--sha", "HEAD", "--version", "1.0",
                    cwd=workspace)
        assert proc.returncode == 0, proc.stderr
    state = json.loads((workspace / "environments/staging.json").read_text())
    head = git("rev-parse", "HEAD", cwd=workspace / ORDERS)
    assert state["services"][ORDERS]["sha"] == head and state["services"][ORDERS]["version"] == "1.0"

    proc = meta("contracts", "can-i-deploy", "notifications", "--to", "staging", cwd=workspace)
    assert proc.returncode == 1 and proc.stdout.startswith("no:")
    doc = json.loads(meta("contracts", "can-i-deploy", "notifications", "--to", "staging", "--json",
                          cwd=workspace).stdout)
    assert doc["answer"] == "no"
    assert [p["producer"] for p in doc["pairs"] if not p["compatible"]] == [ORDERS]

    proc = meta("contracts", "can-i-deploy", "gateway", "--to", "staging", cwd=workspace)
    assert proc.returncode == 0 and proc.stdout.startswith("yes:")
    # orders' consumer notifications has no record in staging: nothing of it runs there to break
    proc = meta("contracts", "can-i-deploy", "orders", "--to", "staging", "--ref", "HEAD", cwd=workspace)
    assert proc.returncode == 0 and proc.stdout.startswith("yes:")
    assert "not deployed in staging yet, checked when they deploy: services/notifications" in proc.stdout

    bad = [("record-deployment", "orders", "--env", "staging", "--sha", "deadbeef"),
           ("record-deployment", "orders", "--env", "moon", "--sha", "HEAD"),
           ("record-deployment", "nope", "--env", "staging", "--sha", "HEAD"),
           ("can-i-deploy", "orders", "--to", "moon")]
    for args in bad:
        proc = meta("contracts", *args, cwd=workspace)
        assert proc.returncode == 2 and proc.stderr.startswith("meta: ") and proc.stderr.count("\n") == 1, args


def _record_all(meta, workspace):
    for name in ("orders", "billing", "shipping", "notifications", "gateway"):
        assert meta("contracts", "record-deployment", name, "--env", "staging", "--sha", "HEAD",
                    cwd=workspace).returncode == 0


def test_plan_orders_a_producer_before_the_consumer_that_needs_its_new_field(meta, workspace):
    _record_all(meta, workspace)
    assert meta("contracts", "plan", "--to", "staging", cwd=workspace).stdout.strip() == "nothing to deploy to staging"
    # shipping starts sending `eta`; orders (first in the manifest) starts requiring it.
    edit_yaml(workspace / "services/shipping/asyncapi.yaml", lambda d: (
        d["channels"]["shipment.dispatched"]["subscribe"]["message"]["payload"]["properties"].update(
            {"eta": {"type": "string"}}),
        d["channels"]["shipment.dispatched"]["subscribe"]["message"]["payload"]["required"].append("eta")))
    edit_yaml(workspace / ORDERS / "contracts.yaml", lambda d: (
        d["consumes"]["shipment.dispatched"]["schema"]["properties"].update({"eta": {"type": "string"}}),
        d["consumes"]["shipment.dispatched"]["schema"]["required"].append("eta")))
    proc = meta("contracts", "plan", "--to", "staging", cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["1. services/shipping", "2. services/orders"]
    doc = json.loads(meta("contracts", "plan", "--to", "staging", "gateway", "orders", "shipping", "--json",
                          cwd=workspace).stdout)
    assert doc["order"] == ["services/shipping", "services/orders", "services/gateway"]

    # The same through the Python interface the rollout code uses.
    from metarepo.contracts.plan import deploy_order
    from metarepo.manifest import load_manifest

    manifest = load_manifest(workspace)
    assert deploy_order(manifest, ["orders", "shipping"], "staging") == ["services/shipping", "services/orders"]
    # A service with no contracts keeps its manifest order.
    (workspace / "services/gateway/contracts.yaml").unlink()
    assert deploy_order(manifest, ["gateway", "billing"], "staging") == ["services/billing", "services/gateway"]


def test_plan_names_the_blocking_pair_and_how_to_split_the_change(meta, workspace):
    _record_all(meta, workspace)
    # orders renames total -> amount, billing starts requiring amount instead of total: no order works.
    file = workspace / ORDERS / "schemas/order-created.json"
    schema = json.loads(file.read_text())
    schema["properties"]["amount"] = schema["properties"].pop("total")
    schema["required"] = [("amount" if n == "total" else n) for n in schema["required"]]
    file.write_text(json.dumps(schema))
    edit_yaml(workspace / "services/billing/asyncapi.yaml", lambda d: d["components"]["schemas"].update(
        {"OrderCreated": {"type": "object", "properties": {"orderId": {"type": "string"}, "amount": {"type": "number"},
                                                            "currency": {"type": "string"}},
                          "required": ["orderId", "amount", "currency"]}}))
    proc = meta("contracts", "plan", "--to", "staging", "orders", "billing", cwd=workspace)
    assert proc.returncode == 1
    assert "no safe order" in proc.stderr and "order.created" in proc.stderr
    assert "split the change" in proc.stderr and proc.stderr.count("\n") == 1

    from metarepo.contracts.plan import NoSafeOrder, deploy_order
    from metarepo.errors import MetaError
    from metarepo.manifest import load_manifest

    try:
        deploy_order(load_manifest(workspace), ["orders", "billing"], "staging")
    except NoSafeOrder as exc:
        assert isinstance(exc, MetaError) and exc.exit_code == 1
        assert exc.pair.message.channel == "order.created" and exc.pair.consumer == "services/billing"
    else:
        raise AssertionError("no error")


def test_a_service_reading_its_own_messages_is_checked_old_against_new_during_its_rollout(meta, workspace):
    """gateway publishes and consumes session.closed; its new version renames the field. New reads new
    fine, but while it rolls out the old instances still read what the new ones send: not safe."""
    gateway = workspace / "services/gateway"
    def session(field):
        return {"schema": {"type": "object", "properties": {field: {"type": "string"}}, "required": [field]}}
    edit_yaml(gateway / "contracts.yaml", lambda d: (d.update(publishes={"session.closed": session("id")}),
                                                      d["consumes"].update({"session.closed": session("id")})))
    git("commit", "-qam", "gateway: session.closed", cwd=gateway)
    _record_all(meta, workspace)
    assert meta("contracts", "can-i-deploy", "gateway", "--to", "staging", cwd=workspace).returncode == 0
    edit_yaml(gateway / "contracts.yaml", lambda d: (d["publishes"].update({"session.closed": session("sid")}),
                                                      d["consumes"].update({"session.closed": session("sid")})))
    _, doc = check_json(meta, workspace)
    assert [p["compatible"] for p in doc["pairs"] if p["message"] == "session.closed"] == [True]  # new with new

    proc = meta("contracts", "can-i-deploy", "gateway", "--to", "staging", "--json", cwd=workspace)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    broken = [(p["producer_version"], p["consumer_version"]) for p in doc["pairs"] if not p["compatible"]]
    assert doc["answer"] == "no" and sorted(broken) == [("staging", "working tree"), ("working tree", "staging")]

    proc = meta("contracts", "plan", "--to", "staging", "gateway", cwd=workspace)
    assert proc.returncode == 1
    assert "session.closed: services/gateway (new) -> services/gateway (deployed), while its old and new " \
           "instances run side by side during its rollout" in proc.stderr
    assert "split the change" in proc.stderr


def test_compare_command(meta, tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.yaml"
    old.write_text(json.dumps({"type": "object", "properties": {"id": {"type": "string"}}}))
    new.write_text("type: object\nproperties: {id: {type: string}}\nrequired: [id]\n")
    proc = meta("contracts", "compare", str(old), str(new), "--role", "consumer", "--json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["compatible"] is False and doc["example"] == {}
    assert doc["changes"][0]["kind"] == "required_property_added"
    proc = meta("contracts", "compare", str(old), str(new), "--role", "producer")
    assert proc.returncode == 0 and proc.stdout.startswith("compatible")
    proc = meta("contracts", "compare", str(new), str(old), "--role", "consumer", "--policy", "lenient")
    assert proc.returncode == 0

    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "object",\n "properties": }')
    proc = meta("contracts", "compare", str(old), str(broken), "--role", "producer")
    assert proc.returncode == 2 and "broken.json:2:" in proc.stderr and "invalid JSON" in proc.stderr
    invalid = tmp_path / "invalid.json"
    invalid.write_text('{"type": "objekt"}')
    proc = meta("contracts", "compare", str(old), str(invalid), "--role", "producer")
    assert proc.returncode == 2 and "not a valid JSON Schema" in proc.stderr
    assert meta("contracts", "compare", str(old), str(tmp_path / "missing.json"), "--role", "producer").returncode == 2
    assert meta("contracts", "compare", str(old), str(new), "--role", "broker").returncode == 2


def test_commands_do_not_import_heavy_libraries_at_start():
    code = ("import sys, metarepo.cli.contracts, metarepo.cli.graph; "
            "print(sorted(m for m in ('networkx', 'jsonschema', 'avro', 'yaml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_compare_resolves_relative_refs_between_files(meta, tmp_path):
    (tmp_path / "common").mkdir()
    (tmp_path / "v2").mkdir()
    (tmp_path / "common/money.json").write_text(json.dumps({"type": "number", "minimum": 0}))
    (tmp_path / "v1.json").write_text(json.dumps({"type": "object", "properties": {"total": {"type": "number"}}}))
    (tmp_path / "v2/order.json").write_text(json.dumps(
        {"type": "object", "properties": {"total": {"$ref": "../common/money.json"}}}))
    proc = meta("contracts", "compare", "v1.json", "v2/order.json", "--role", "consumer", "--json", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["changes"][0]["kind"] == "minimum_added"
    assert doc["example"]["total"] < 0
    (tmp_path / "v2/dangling.json").write_text(json.dumps({"$ref": "../common/nope.json"}))
    proc = meta("contracts", "compare", "v1.json", "v2/dangling.json", "--role", "consumer", cwd=tmp_path)
    assert proc.returncode == 2 and "unresolvable $ref '../common/nope.json'" in proc.stderr


def test_graph_output_errors_and_json_affected(meta, workspace):
    proc = meta("graph", "--format", "html", "-o", "no/such/folder/g.html", cwd=workspace)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    doc = json.loads(meta("graph", "--format", "json", "--affected-by", "billing", cwd=workspace).stdout)
    assert doc["service"] == "services/billing"
    assert set(doc["affected"]) == {"services/orders", "services/shipping", "services/notifications",
                                    "services/gateway", "services/billing"} - {"services/billing"}
    assert meta("graph", "--affected-by", "nope", cwd=workspace).returncode == 2


def test_graph_affected_by_draws_that_part_of_the_graph(meta, workspace, tmp_path):
    dot = meta("graph", "--affected-by", "gateway", "--format", "dot", cwd=workspace).stdout
    assert '"service:services/gateway"' in dot and "message:" not in dot and "->" not in dot
    mermaid = meta("graph", "--affected-by", "notifications", "--format", "mermaid", cwd=workspace).stdout
    assert mermaid.strip().splitlines() == ["flowchart LR", '  n0["services/notifications"]']
    out = tmp_path / "orders.html"
    assert meta("graph", "--affected-by", "orders", "--format", "html", "-o", str(out), cwd=workspace).returncode == 0
    html = out.read_text()
    assert "services/notifications consumes order.created (breaking)" in html
    assert "Breaking pairs" in html


def test_check_against_a_ref_with_both_sides_changed(meta, workspace):
    # orders starts sending (and promising) `coupon`; billing starts requiring it.
    file = workspace / ORDERS / "schemas/order-created.json"
    schema = json.loads(file.read_text())
    schema["properties"]["coupon"] = {"type": "string"}
    schema["required"].append("coupon")
    file.write_text(json.dumps(schema))
    edit_yaml(workspace / "services/billing/asyncapi.yaml", lambda d: (
        d["components"]["schemas"]["OrderCreated"]["properties"].update({"coupon": {"type": "string"}}),
        d["components"]["schemas"]["OrderCreated"]["required"].append("coupon")))
    status, doc = check_json(meta, workspace, "--against", "HEAD")
    assert status == 1
    seen = {(p["producer_version"], p["consumer_version"]): p for p in doc["pairs"]
            if p["message"] == "order.created" and p["consumer"] == "services/billing"}
    # Every combination live during the rollout, and only those: old with old is what runs now.
    assert set(seen) == {("working tree", "working tree"), ("working tree", "HEAD"), ("HEAD", "working tree")}
    assert seen["working tree", "working tree"]["compatible"] and seen["working tree", "HEAD"]["compatible"]
    old_producer = seen["HEAD", "working tree"]
    assert not old_producer["compatible"] and "coupon" not in old_producer["example"]
    assert "required_property_added" in {c["kind"] for c in old_producer["changes"]}


def test_check_policy_and_unconsumed_notes(meta, workspace):
    # gateway starts reading a `depot` integer that shipping's open payload never declares.
    edit_yaml(workspace / "services/gateway/contracts.yaml", lambda d: (
        d["consumes"]["shipment.dispatched"]["schema"]["properties"].update({"depot": {"type": "integer"}}),
        d.update({"publishes": {"gateway.audit": {"schema": {"type": "object"}}}})))

    def gateway_pair(*args):
        status, doc = check_json(meta, workspace, "--exclude", "notifications", *args)
        return status, doc, next(p for p in doc["pairs"] if p["consumer"] == "services/gateway")

    status, doc, pair = gateway_pair()
    assert status == 1 and not pair["compatible"]
    assert [c["kind"] for c in pair["changes"] if c["breaking"]] == ["property_added_to_open_content_model"]
    assert "depot" in pair["example"] and not isinstance(pair["example"]["depot"], int)
    status, doc, pair = gateway_pair("--policy", "lenient")
    assert status == 0 and pair["compatible"] and doc["ok"] is True
    # Published and consumed by nobody: a note, not a failure.
    assert doc["unconsumed"] == [{"channel": "gateway.audit", "message": "gateway.audit",
                                  "producer": "services/gateway"}]
    proc = meta("contracts", "check", "--exclude", "notifications", "--policy", "lenient", cwd=workspace)
    assert proc.returncode == 0
    assert "note: services/gateway publishes 'gateway.audit', which nobody consumes" in proc.stderr


def test_the_manifest_names_a_projects_contract_file(meta, workspace):
    gateway = workspace / "services/gateway"
    (gateway / "api").mkdir()
    (gateway / "contracts.yaml").rename(gateway / "api/messages.yaml")
    status, doc = check_json(meta, workspace)
    assert not [p for p in doc["pairs"] if p["consumer"] == "services/gateway"]  # not found under its usual name
    manifest = json.loads((workspace / ".meta").read_text())
    manifest["metarepo"]["projects"]["services/gateway"]["contracts"] = "api/messages.yaml"
    (workspace / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
    status, doc = check_json(meta, workspace)
    assert [p["compatible"] for p in doc["pairs"] if p["consumer"] == "services/gateway"] == [True]
    manifest["metarepo"]["projects"]["services/gateway"]["contracts"] = "api/nope.yaml"
    (workspace / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
    proc = meta("contracts", "check", cwd=workspace)
    assert proc.returncode == 2 and "services/gateway/api/nope.yaml: no such contracts file" in proc.stderr
    for bad, said in ((3, "must be the path"), (["a.yaml"], "must be the path"), ("", "must be the path"),
                      ("/etc/passwd", "must be a path relative to the repository"),
                      ("../orders/contracts.yaml", "points outside the repository")):
        manifest["metarepo"]["projects"]["services/gateway"]["contracts"] = bad
        (workspace / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
        proc = meta("contracts", "check", cwd=workspace)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, (bad, proc.stderr)
        assert proc.stderr.startswith("meta: .meta: metarepo.projects.services/gateway.contracts: ") and \
            said in proc.stderr, (bad, proc.stderr)


def test_graph_to_a_path_it_cannot_write_is_one_line_and_writes_nothing(meta, workspace):
    proc = meta("graph", "--format", "dot", "-o", "/proc/contracts-graph.dot", cwd=workspace)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "cannot write it" in proc.stderr and "Traceback" not in proc.stderr
    assert not Path("/proc/contracts-graph.dot").exists()


def test_compare_help_says_which_draft_a_schema_without_dollar_schema_is_read_in(meta):
    proc = meta("contracts", "compare", "--help")
    assert proc.returncode == 0 and "2020-12" in proc.stdout.replace("\n", " ")
