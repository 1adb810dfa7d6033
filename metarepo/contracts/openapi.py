"""OpenAPI Schema Objects (``schemaFormat: application/vnd.oai.openapi;version=3.0.0``) as JSON Schema.

OpenAPI 3.0's Schema Object is "an extended subset" of JSON Schema draft
Wright-00 (draft-04's keywords): it is read as draft-04, where
``exclusiveMinimum``/``exclusiveMaximum`` are booleans beside ``minimum``/
``maximum`` and a ``$ref`` replaces its siblings (3.0's Reference Object),
with OpenAPI's own differences made plain JSON Schema: ``nullable: true``
adds ``"null"`` to an explicit ``type`` (and only then, as 3.0.3 says;
an ``enum`` still has to list ``null``), and the annotations OpenAPI adds
(``example``, ``discriminator``, ``xml``, ``externalDocs``, ``x-*``
extensions) are dropped; ``readOnly``, ``writeOnly`` and ``deprecated``
are annotations in JSON Schema too and stay. OpenAPI 3.1's Schema Object is
JSON Schema 2020-12 (its dialect adds only annotations), read as such.
"""

from __future__ import annotations

from typing import Any

from metarepo.contracts.payloads import DRAFT_4, DRAFT_2020, OPENAPI_30

_ANNOTATIONS = frozenset({"example", "discriminator", "xml", "externalDocs"})
_ONE = frozenset({"additionalProperties", "items", "not", "if", "then", "else", "propertyNames", "contains",
                  "unevaluatedItems", "unevaluatedProperties", "additionalItems", "contentSchema"})
_MANY = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


def openapi_to_json_schema(schema: Any, version: str) -> Any:
    """``schema`` (resolved, an OpenAPI 3.0 or 3.1 Schema Object) as JSON Schema draft-04 (3.0) or 2020-12 (3.1)."""
    legacy = version == OPENAPI_30
    out = _convert(schema, legacy)
    if isinstance(out, dict):
        out = {"$schema": DRAFT_4 if legacy else DRAFT_2020, **{k: v for k, v in out.items() if k != "$schema"}}
    return out


def _convert(node: Any, legacy: bool) -> Any:
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS or (isinstance(key, str) and key.startswith("x-")) or (legacy and key == "nullable"):
            continue
        if key in _ONE:
            out[key] = [_convert(v, legacy) for v in value] if isinstance(value, list) else _convert(value, legacy)
        elif key in _MANY and isinstance(value, list):
            out[key] = [_convert(v, legacy) for v in value]
        elif key in _MAPS and isinstance(value, dict):
            out[key] = {name: _convert(v, legacy) for name, v in value.items()}
        else:
            out[key] = value
    if legacy and node.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out
