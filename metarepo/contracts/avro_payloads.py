"""Avro payloads: parsed and compared with the ``avro`` package's reader/writer checker."""

from __future__ import annotations

import json
from typing import Any

from metarepo.errors import ManifestError, UsageError

from metarepo.contracts.model import Change, Verdict


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
    return Verdict(False, changes)
