"""One payload schema found in a contract file to a checked, self-contained ``Schema``.

The schema's format decides how it is read: JSON Schema (its own
``$schema``, else the draft its file implies), AsyncAPI's Schema (a superset
of draft-07), OpenAPI 3.0 and 3.1 Schema Objects (``openapi``) and Avro.
Every JSON Schema is resolved (``refs``), bounded in size once resolved, and
checked against its metaschema, each distinct content once.
"""

from __future__ import annotations

from typing import Any

from metarepo.errors import ManifestError

from metarepo.contracts.bounds import MAX_NODES, expanded_size
from metarepo.contracts.model import AVRO, JSON_SCHEMA, Format, Schema, digest_of

DRAFT_2020 = "https://json-schema.org/draft/2020-12/schema"
DRAFT_7 = "http://json-schema.org/draft-07/schema#"
DRAFT_4 = "http://json-schema.org/draft-04/schema#"
OPENAPI_30, OPENAPI_31 = "openapi-3.0", "openapi-3.1"
_CHECKED: set[str] = set()
_DRAFTS = {"draft-04": DRAFT_4, "draft-06": "http://json-schema.org/draft-06/schema#",
           "draft-07": DRAFT_7, "2019-09": "https://json-schema.org/draft/2019-09/schema", "2020-12": DRAFT_2020}


def make_schema(node: Any, fmt: str, reader: Any, file: str, pointer: str, where: str, draft: str,
                *, self_rooted: bool = False, document: Any = None) -> Schema:
    """Resolve, check and wrap one payload schema found at ``pointer`` in ``file``.

    ``draft`` is a ``$schema`` URI, or ``OPENAPI_30``/``OPENAPI_31`` for an
    OpenAPI Schema Object.
    """
    if Format(fmt) is AVRO:
        from metarepo.contracts.avro_payloads import parse_avro

        parse_avro(node, where)
        return Schema.of(node, AVRO, where)
    openapi = draft if draft in (OPENAPI_30, OPENAPI_31) else None
    if openapi:
        draft = DRAFT_4 if openapi == OPENAPI_30 else DRAFT_2020
    try:
        bundler = reader.bundler(file, node if self_rooted else document if document is not None
                                 else reader.load(file))
        # an inline schema: "#" means the schema itself
        bundled = bundler.bundle(node, file, "" if self_rooted else pointer, draft)
    except ManifestError as exc:  # a $ref in this schema's own file: name the schema, not just the file
        own = f"{reader.label(file)}: "
        if exc.line is None and exc.message.startswith(own) and where != reader.label(file):
            raise ManifestError(exc.message[len(own):], file=where, hint=exc.hint) from None
        raise
    # YAML aliases were bounded when the file was read; a $ref inlined in several places is bounded here.
    if bundler.shared and expanded_size(bundled) > MAX_NODES:
        raise ManifestError(f"the schema, its $refs resolved, has more than {MAX_NODES:,} values; refused",
                            file=where)
    if openapi:
        from metarepo.contracts.openapi import openapi_to_json_schema

        bundled = openapi_to_json_schema(bundled, openapi)
    if isinstance(bundled, dict) and "$schema" not in bundled:
        bundled = {"$schema": draft, **bundled}
    schema = Schema.of(bundled, JSON_SCHEMA, where)
    check_json_schema(bundled, where, schema.digest)
    return schema


def check_json_schema(document: Any, where: str, digest: str | None = None) -> None:
    """Refuse a schema that its metaschema rejects, naming the path; each content checked once."""
    if not isinstance(document, (dict, bool)):
        raise ManifestError("a schema must be a mapping or a boolean", file=where)
    digest = digest or digest_of(document)
    if digest in _CHECKED:
        return
    from metarepo.contracts.metaschema import check_schema

    check_schema(document, where)
    _CHECKED.add(digest)


def draft_of(name: Any, default: str) -> str:
    """The draft a ``schemaFormat`` names (``application/schema+json;version=2020-12``), or an OpenAPI one."""
    text = str(name or "").lower().replace(" ", "")
    version = text.partition("version=")[2].split(";")[0]
    if text.startswith(("application/schema+json", "application/schema+yaml")):
        return _DRAFTS.get(version, default)
    if text.startswith("application/vnd.oai.openapi"):
        return OPENAPI_31 if version.startswith("3.1") else OPENAPI_30
    return default  # AsyncAPI's own schema format is a superset of draft-07


def format_of(name: Any, where: str) -> Format:
    if name is None:
        return JSON_SCHEMA
    text = str(name).lower().replace(" ", "")
    if text.startswith("application/vnd.apache.avro"):
        return AVRO
    if text.startswith("application/vnd.oai.openapi"):
        version = text.partition("version=")[2].split(";")[0] or "3.0.0"
        if not version.startswith(("3.0", "3.1")):
            raise ManifestError(f"unsupported schemaFormat {name!r} (OpenAPI 3.0 and 3.1 Schema Objects are read)",
                                file=where)
        return JSON_SCHEMA
    if text.startswith(("application/vnd.aai.asyncapi", "application/schema+json", "application/schema+yaml")):
        return JSON_SCHEMA
    raise ManifestError(f"unsupported schemaFormat {name!r} (JSON Schema, AsyncAPI Schema, OpenAPI 3.0/3.1 "
                        "Schema Objects or Avro)", file=where)
