"""What `check` parsed and compared is kept in .metarepo/ by content: an unchanged fleet is not parsed again,
a changed file is, and a broken or foreign cache is no cache."""

from __future__ import annotations

import json
from pathlib import Path

from metarepo.contracts import loading
from metarepo.contracts.cache import CACHE_FILE, ContractCache
from metarepo.contracts.fleet import project_contract
from metarepo.manifest import load_manifest


def fleet(root: Path) -> None:
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "a" / "contracts.yaml").write_text("publishes: {m: {schema: {type: object, properties: "
                                               "{id: {type: string}}}}}\n")
    (root / "b" / "contracts.yaml").write_text("consumes: {m: {schema: schemas/m.json}}\n")
    (root / "b" / "schemas").mkdir()
    (root / "b" / "schemas" / "m.json").write_text('{"type": "object", "properties": {"id": {"type": "string"}}}')
    (root / ".meta").write_text(json.dumps({"projects": {"a": "https://example.invalid/a.git",
                                                         "b": "https://example.invalid/b.git"}}))


def test_an_unchanged_project_is_not_parsed_again_and_a_changed_file_is(tmp_path, monkeypatch):
    fleet(tmp_path)
    manifest = load_manifest(tmp_path)
    file = manifest.ensure_state_dir() / CACHE_FILE
    parsed: list[str] = []
    real = loading.parse_document
    monkeypatch.setattr(loading, "parse_document", lambda text, name: parsed.append(name) or real(text, name))

    def run() -> dict:
        cache = ContractCache(file)
        contracts = {p.name: project_contract(p, cache=cache) for p in manifest.projects}
        cache.save()
        return contracts

    first = run()
    assert sorted(parsed) == ["a/contracts.yaml", "b/contracts.yaml", "b/schemas/m.json"]
    parsed.clear()
    again = run()
    assert parsed == []  # nothing parsed
    for name in first:
        assert [(e.message, e.schema.digest, e.schema.document) for e in again[name].endpoints] == \
            [(e.message, e.schema.digest, e.schema.document) for e in first[name].endpoints]
    # A file that a contract $refs changes: that project alone is read again.
    (tmp_path / "b" / "schemas" / "m.json").write_text('{"type": "object", "required": ["id"]}')
    assert run()["b"].consumes[("m", "m")].document["required"] == ["id"]
    assert sorted(parsed) == ["b/contracts.yaml", "b/schemas/m.json"]
    parsed.clear()
    # A new candidate file counts too.
    (tmp_path / "a" / "asyncapi.yaml").write_text("asyncapi: 3.0.0\nchannels: {c: {address: c, messages: {x: "
                                                  "{payload: {type: string}}}}}\noperations: {o: {action: send, "
                                                  "channel: {$ref: '#/channels/c'}}}\n")
    assert ("c", "x") in run()["a"].publishes
    file.write_text("{not json")  # a broken cache is no cache
    parsed.clear()
    assert ("c", "x") in run()["a"].publishes and len(parsed) == 4


def test_check_keeps_its_verdicts_and_answers_the_same(meta, tmp_path):
    fleet(tmp_path)
    first = meta("contracts", "check", "--json", cwd=tmp_path)
    assert (tmp_path / ".metarepo" / CACHE_FILE).is_file()
    second = meta("contracts", "check", "--json", cwd=tmp_path)
    assert first.returncode == second.returncode == 0 and first.stdout == second.stdout
    (tmp_path / "b" / "schemas" / "m.json").write_text('{"type": "object", "required": ["id"]}')
    third = meta("contracts", "check", "--json", cwd=tmp_path)
    assert third.returncode == 1 and json.loads(third.stdout)["pairs"][0]["state"] == "breaking"
