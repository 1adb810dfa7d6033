"""Contract files are other people's input: every cost they drive is bounded, and past a bound the answer is a
clear "could not decide" or a one-line refusal, never a hang, a MemoryError or a file from outside the repo."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from metarepo.contracts.compare import compare_schemas
from metarepo.contracts.fleet import pair_matrix
from metarepo.contracts.loading import load_contract
from metarepo.contracts.model import Compatibility
from metarepo.contracts.sources import WorkTree
from metarepo.contracts.validation import checker
from metarepo.errors import ManifestError

from .schemas import schema, verdict

pytestmark = pytest.mark.timeout(120)  # without the bounds, these hang (or die of a MemoryError)


def load(root: Path, text: str):
    root.mkdir(parents=True, exist_ok=True)
    (root / "contracts.yaml").write_text(textwrap.dedent(text))
    return load_contract(WorkTree(root, root.name), root.name)


def test_a_yaml_alias_bomb_is_refused(tmp_path):
    lines = ["x-a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x-a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    lines += ["publishes: {m: {schema: {type: object, default: *a9}}}"]
    with pytest.raises(ManifestError, match=r"contracts\.yaml: its YAML aliases expand to more than 200,000 values"):
        load(tmp_path / "svc", "\n".join(lines) + "\n")


def test_a_ref_bomb_is_refused(tmp_path):
    defs = {"d0": {"type": "string"}}
    for i in range(1, 40):
        defs[f"d{i}"] = {"type": "object", "properties": {k: {"$ref": f"#/$defs/d{i - 1}"} for k in "ab"}}
    document = {"publishes": {"m": {"schema": {"$defs": defs, "$ref": "#/$defs/d39"}}}}
    with pytest.raises(ManifestError, match=r"has more than 200,000 values; refused"):
        load(tmp_path / "svc", json.dumps(document))


def test_a_billion_items_is_a_verdict_not_a_memory_error():
    writer = {"type": "array", "items": {"type": "string", "maxLength": 3}, "minItems": 1_000_000_000}
    result = verdict(writer, {"type": "array", "items": {"type": "string", "maxLength": 2}})
    assert result.state is Compatibility.BREAKING and not result.has_example  # no message that big is built
    assert verdict({"type": "string", "pattern": "^a{1000000000}$"}, {"type": "string", "maxLength": 3}).breaking


def test_a_backtracking_pattern_against_a_long_producer_string_is_decided_quickly():
    # (Python's own re takes minutes to reject "a" * 30 here: the example is checked on the bounded engine.)
    result = compare_schemas(schema({"type": "string", "minLength": 30}),
                             schema({"type": "string", "pattern": "^(a+)+b$"}))
    assert result.state is Compatibility.BREAKING and result.example == "a" * 30
    assert checker(schema({"type": "string", "minLength": 30}).document)(result.example)


UNDECIDABLE = ({"enum": ["a" * 40 + "!"]}, {"type": "string", "pattern": "^(a|aa)+$"})


def test_a_pattern_past_its_time_limit_is_undecided_and_not_safe():
    result = compare_schemas(schema(UNDECIDABLE[0]), schema(UNDECIDABLE[1]))
    assert result.state is Compatibility.UNDECIDED and not result.compatible
    assert result.changes[0].kind == "undecided" and "took too long" in result.changes[0].message
    assert result.as_json()["state"] == "undecided" and result.as_json()["compatible"] is False


def test_check_shows_an_undecided_pair_and_fails(meta, tmp_path):
    for name, role, document in (("a", "publishes", UNDECIDABLE[0]), ("b", "consumes", UNDECIDABLE[1])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "contracts.yaml").write_text(json.dumps({role: {"m": {"schema": document}}}))
    (tmp_path / ".meta").write_text(json.dumps({"projects": {"a": "https://example.invalid/a.git",
                                                             "b": "https://example.invalid/b.git"}}))
    proc = meta("contracts", "check", cwd=tmp_path)
    assert proc.returncode == 1 and "UNDECIDED" in proc.stdout and "could not decide within the limit" in proc.stdout
    assert "1 undecided" in proc.stderr
    proc = meta("contracts", "check", "--json", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["ok"] is False and doc["pairs"][0]["state"] == "undecided"


def test_enums_of_tens_of_thousands_of_values_compare_in_linear_time():
    values = [f"v{i}" for i in range(30_000)]
    assert verdict({"type": "string", "enum": values}, {"type": "string", "enum": values[::-1]}).compatible
    result = verdict({"enum": values}, {"enum": values[:-1]})
    assert result.state is Compatibility.BREAKING and result.example == "v29999"
    merged = verdict({"allOf": [{"enum": values}, {"enum": values[::2]}]}, {"enum": values[::2]})
    assert merged.compatible


def test_compare_refuses_a_device_or_a_huge_file(meta, tmp_path):
    (tmp_path / "s.json").write_text('{"type": "string"}')
    proc = meta("contracts", "compare", "s.json", "/dev/zero", "--role", "producer", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "/dev/zero: not a regular file; refused" in proc.stderr
    (tmp_path / "big.json").write_text(" " * (9 * 1024 * 1024) + "{}")
    proc = meta("contracts", "compare", "s.json", "big.json", "--role", "producer", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "larger than 8 MiB" in proc.stderr


def test_a_symlinked_schema_is_not_read_from_outside_the_repository(meta, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"type": "string", "const": "TOP-SECRET-TOKEN"}')
    repo = tmp_path / "svc"
    repo.mkdir()
    os.symlink(secret, repo / "schema.json")
    os.symlink(secret, repo / "ref.json")
    for text in ("publishes: {m: {schema: schema.json}}\n", "publishes: {m: {schema: {$ref: ref.json}}}\n"):
        with pytest.raises(ManifestError, match=r"svc/(schema|ref)\.json: resolves to a file outside the repository"):
            load(repo, text)
    (repo / "inside.json").write_text('{"type": "integer"}')
    os.symlink(repo / "inside.json", repo / "alias.json")  # a link that stays inside is a file like any other
    contract = load(repo, "publishes: {m: {schema: alias.json}}\n")
    assert list(contract.publishes.values())[0].document["type"] == "integer"
    # The command line says it in one line and never shows the content.
    (repo / "contracts.yaml").write_text("publishes: {m: {schema: schema.json}}\n")
    (tmp_path / ".meta").write_text(json.dumps({"projects": {"svc": "https://example.invalid/svc.git"}}))
    proc = meta("contracts", "check", cwd=tmp_path)
    assert proc.returncode == 2 and "TOP-SECRET" not in proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1


def test_an_undecided_pair_blocks_the_matrix():
    from metarepo.contracts.model import Contract, Endpoint, Message, CONSUMER, PRODUCER

    message = Message("m", "m")
    contracts = {"a": Contract("a", (Endpoint(PRODUCER, message, schema(UNDECIDABLE[0])),)),
                 "b": Contract("b", (Endpoint(CONSUMER, message, schema(UNDECIDABLE[1])),))}
    result = pair_matrix(contracts)
    assert not result.ok and result.undecided and not result.breaking
