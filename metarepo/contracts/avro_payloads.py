"""Avro payloads: parsed and compared with the ``avro`` package's reader/writer checker.

A breaking verdict comes with a datum the writer's schema encodes and the
reader's schema fails to decode, found by actually encoding and decoding it
with ``avro.io`` (never made up).
"""

from __future__ import annotations

import json
from typing import Any

from metarepo.errors import ManifestError, UsageError

from metarepo.contracts.model import NO_EXAMPLE, Change, Verdict


def _avro() -> Any:
    try:
        import avro.compatibility  # noqa: F401
        import avro.schema
    except ImportError:
        raise UsageError("Avro payloads need the 'avro' package",
                         hint="pip install 'metarepo[contracts]'") from None
    return avro


def parse_avro(document: Any, where: str) -> Any:
    """An ``avro.schema.Schema`` from a JSON document; one clear error if it is not one."""
    avro = _avro()
    try:
        return avro.schema.parse(document if isinstance(document, str) else json.dumps(document))
    except (avro.errors.SchemaParseException, avro.errors.AvroException, ValueError, TypeError) as exc:
        raise ManifestError(f"not a valid Avro schema: {exc}", file=where) from None


def compare_avro(writer: Any, reader: Any) -> Verdict:
    """Can a reader with schema ``reader`` decode what ``writer`` wrote (Avro resolution rules)?"""
    avro = _avro()
    from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

    result = ReaderWriterCompatibilityChecker().get_compatibility(
        parse_avro(reader, "reader schema"), parse_avro(writer, "writer schema"))
    if result.compatibility is SchemaCompatibilityType.compatible:
        return Verdict(True)
    del avro
    locations = sorted(result.locations) or ["/"]
    kinds = [i.value for i in result.incompatibilities] or ["incompatible"]
    messages = sorted(result.messages) or ["the reader cannot decode the writer's data"]
    changes = tuple(Change(path="#" + (loc if loc.startswith("/") else "/" + loc).rstrip("/"),
                           kind=kinds[min(i, len(kinds) - 1)], breaking=True,
                           message=messages[min(i, len(messages) - 1)])
                    for i, loc in enumerate(locations))
    example = find_avro_example(parse_avro(writer, "writer schema"), parse_avro(reader, "reader schema"))
    return Verdict(False, changes, example)


def find_avro_example(writer: Any, reader: Any, budget: int = 64) -> Any:
    """A datum the writer can encode and the reader fails to decode (tried for real), or NO_EXAMPLE."""
    import io

    from avro.io import BinaryDecoder, BinaryEncoder, DatumReader, DatumWriter, validate

    for datum in _datums(writer, 0)[:budget]:
        if not validate(writer, datum):
            continue
        buffer = io.BytesIO()
        try:
            DatumWriter(writer).write(datum, BinaryEncoder(buffer))
        except Exception:  # noqa: BLE001 - not encodable: not an example
            continue
        buffer.seek(0)
        try:
            DatumReader(writer, reader).read(BinaryDecoder(buffer))
        except Exception:  # noqa: BLE001 - the reader cannot resolve it: that is the proof
            return datum
    return NO_EXAMPLE


_PRIMITIVE = {"null": [None], "boolean": [True], "int": [0, 1], "long": [0, 1], "float": [0.5], "double": [0.5],
              "bytes": [b""], "string": ["a"]}


def _datums(schema: Any, depth: int) -> list:
    """A few data the writer's schema allows: every enum symbol and union branch gets a turn."""
    kind = schema.type
    if kind in _PRIMITIVE:
        return list(_PRIMITIVE[kind])
    if depth > 6:
        return []
    if kind == "enum":
        return list(schema.symbols)
    if kind == "fixed":
        return [b"\0" * schema.size]
    if kind == "array":
        items = _datums(schema.items, depth + 1)
        return [[], *[[item] for item in items[:4]]]
    if kind == "map":
        values = _datums(schema.values, depth + 1)
        return [{}, *[{"k": value} for value in values[:4]]]
    if kind == "union":
        return [d for branch in schema.schemas for d in _datums(branch, depth + 1)[:4]]
    if kind in ("record", "error", "request"):
        options = {f.name: _datums(f.type, depth + 1) or [None] for f in schema.fields}
        base = {name: values[0] for name, values in options.items()}
        out = [base]
        for name, values in options.items():
            out += [{**base, name: value} for value in values[1:6]]
        return out
    return []
