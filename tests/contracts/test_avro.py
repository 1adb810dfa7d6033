"""Avro payloads: the avro package's reader/writer rules, through `compare` and the loader."""

from __future__ import annotations

import json

from metarepo.contracts.compare import compare_schemas
from metarepo.contracts.model import AVRO, Schema

WRITER = {"type": "record", "name": "Paid", "fields": [{"name": "id", "type": "string"},
                                                      {"name": "amount", "type": "double"}]}


def avro(document) -> Schema:
    return Schema.of(document, AVRO)


def test_reader_with_a_subset_of_fields_reads_the_writer():
    reader = {"type": "record", "name": "Paid", "fields": [{"name": "id", "type": "string"}]}
    assert compare_schemas(avro(WRITER), avro(reader)).compatible


def test_reader_field_without_default_breaks_with_default_does_not():
    reader = {"type": "record", "name": "Paid", "fields": [*WRITER["fields"], {"name": "currency", "type": "string"}]}
    result = compare_schemas(avro(WRITER), avro(reader))
    assert not result.compatible
    assert result.changes[0].kind == "reader_field_missing_default_value" and result.changes[0].breaking
    assert result.example == {"id": "a", "amount": 0.5}  # encoded by the writer, refused by the reader
    reader["fields"][-1]["default"] = "EUR"
    assert compare_schemas(avro(WRITER), avro(reader)).compatible


def test_type_promotion_follows_avro():
    int_writer = {"type": "record", "name": "N", "fields": [{"name": "n", "type": "int"}]}
    long_reader = {"type": "record", "name": "N", "fields": [{"name": "n", "type": "long"}]}
    assert compare_schemas(avro(int_writer), avro(long_reader)).compatible
    assert not compare_schemas(avro(long_reader), avro(int_writer)).compatible


def test_avro_against_json_schema_is_a_format_change():
    result = compare_schemas(avro(WRITER), Schema.of({"type": "object"}))
    assert not result.compatible and result.changes[0].kind == "schema_format_changed"


def test_compare_command_reads_avsc_files(meta, tmp_path):
    old, new = tmp_path / "old.avsc", tmp_path / "new.avsc"
    old.write_text(json.dumps(WRITER))
    new.write_text(json.dumps({**WRITER, "fields": WRITER["fields"][:1]}))
    # A consumer dropping a field it no longer reads is safe; a producer dropping one is not.
    assert meta("contracts", "compare", str(old), str(new), "--role", "consumer").returncode == 0
    proc = meta("contracts", "compare", str(old), str(new), "--role", "producer", "--json")
    assert proc.returncode == 1 and json.loads(proc.stdout)["compatible"] is False
    (tmp_path / "bad.avsc").write_text('{"type": "record"}')
    proc = meta("contracts", "compare", str(old), str(tmp_path / "bad.avsc"), "--role", "producer")
    assert proc.returncode == 2 and "not a valid Avro schema" in proc.stderr


def test_enum_symbol_dropped_shows_the_symbol():
    writer = {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]}
    reader = {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}
    result = compare_schemas(avro(writer), avro(reader))
    assert not result.compatible and result.example == "BLUE"


def test_each_avro_change_is_explained_at_its_own_location():
    # Two findings whose locations and messages sort in different orders: each must keep its own.
    writer = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}]}
    reader = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"},
                                                         {"name": "aa", "type": "string"}]}
    result = compare_schemas(avro(writer), avro(reader))
    found = {(c.path, c.kind, c.message) for c in result.changes}
    assert found == {("#/fields/0/type", "type_mismatch", "reader type: string not compatible with writer type: int"),
                     ("#/fields/1", "reader_field_missing_default_value", "aa")}
