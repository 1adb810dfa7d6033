"""Avro payloads: parsed and compared with the ``avro`` package's reader/writer checker.

A breaking verdict comes with a datum the writer's schema encodes and the
reader's schema fails to decode, found by actually encoding and decoding it
with ``avro.io`` (never made up).
"""

from __future__ import annotations

import json
import threading
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
    _avro()
    found = _incompatibilities(parse_avro(reader, "reader schema"), parse_avro(writer, "writer schema"))
    if found is None:
        return Verdict(True)
    changes = tuple(Change(path="#" + (loc if loc.startswith("/") else "/" + loc).rstrip("/"), kind=kind,
                           breaking=True, message=message)
                    for kind, message, loc in found) or (
        Change("#", "incompatible", True, "the reader cannot decode the writer's data"),)
    example = find_avro_example(parse_avro(writer, "writer schema"), parse_avro(reader, "reader schema"))
    return Verdict(False, changes, example)


_CHECKER_LOCK = threading.Lock()


def _incompatibilities(reader: Any, writer: Any) -> list[tuple[str, str, str]] | None:
    """(kind, message, location) of each incompatibility the ``avro`` checker finds, each with its own
    location and message (its result keeps them in separate sets), or None when compatible.

    The checker builds every finding with ``avro.compatibility.incompatible`` and combines them with
    ``merge``; both are wrapped, for this call only, to carry the three together."""
    import avro.compatibility as checking

    with _CHECKER_LOCK:
        made, merged = checking.incompatible, checking.merge

        def incompatible(kind: Any, message: str, location: list) -> Any:
            result = made(kind, message, location)
            result.found = [(kind.value, message, next(iter(result.locations)))]
            return result

        def merge(this: Any, that: Any) -> Any:
            result = merged(this, that)
            result.found = [*getattr(this, "found", ()), *getattr(that, "found", ())]
            return result

        checking.incompatible, checking.merge = incompatible, merge
        try:
            result = checking.ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
        finally:
            checking.incompatible, checking.merge = made, merged
    if result.compatibility is checking.SchemaCompatibilityType.compatible:
        return None
    return list(dict.fromkeys(getattr(result, "found", [])))


def find_avro_example(writer: Any, reader: Any, budget: int = 64) -> Any:
    """A datum the writer can encode and the reader fails to decode (tried for real), or NO_EXAMPLE."""
    import io

    from avro.io import BinaryDecoder, DatumReader

    for datum, encoded in _encodable(writer, budget):
        try:
            DatumReader(writer, reader).read(BinaryDecoder(io.BytesIO(encoded)))
        except Exception:  # noqa: BLE001 - the reader cannot resolve it: that is the proof
            return datum
    return NO_EXAMPLE


def valid_avro_example(schema: Any, budget: int = 64) -> Any:
    """A datum ``schema`` (an ``avro.schema.Schema``) validates, in its binary encoding; or ``NO_EXAMPLE``."""
    return next((encoded for _, encoded in _encodable(schema, budget)), NO_EXAMPLE)


def _encodable(schema: Any, budget: int) -> Any:
    """(datum, its binary encoding) for each of a few data ``schema`` validates and encodes."""
    import io

    from avro.io import BinaryEncoder, DatumWriter, validate

    for datum in _datums(schema, 0)[:budget]:
        if not validate(schema, datum):
            continue
        buffer = io.BytesIO()
        try:
            DatumWriter(schema).write(datum, BinaryEncoder(buffer))
        except Exception:  # noqa: BLE001 - not encodable: not an example
            continue
        yield datum, buffer.getvalue()


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
