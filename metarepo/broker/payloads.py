"""A valid example of a message, as the bytes a producer would publish: what the probe sends.

JSON Schema payloads come from the contracts' example generator and are
validated against the producer's schema with ``jsonschema`` once more here,
right before they are published; Avro ones are a datum the producer's
schema validates, in Avro's binary encoding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from metarepo.contracts.model import AVRO, NO_EXAMPLE, Schema


@dataclass(frozen=True)
class Payload:
    body: bytes
    content_type: str


def example_payload(schema: Schema) -> Payload | None:
    """A payload ``schema`` accepts, or None when none can be made within the generator's bounds."""
    if schema.format is AVRO:
        from metarepo.contracts.avro_payloads import parse_avro, valid_avro_example

        encoded = valid_avro_example(parse_avro(schema.document, schema.source or "an Avro schema"))
        return None if encoded is NO_EXAMPLE else Payload(encoded, "application/avro")
    from metarepo.contracts.examples import valid_example
    from metarepo.contracts.validation import checker

    value = valid_example(schema.document)
    if value is NO_EXAMPLE or not checker(schema.document)(value):
        return None
    return Payload(json.dumps(value, separators=(",", ":")).encode(), "application/json")
