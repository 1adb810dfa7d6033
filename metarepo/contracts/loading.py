"""A service's contract files to a ``Contract``: ``contracts.yaml``, and AsyncAPI 2.x/3.x (``asyncapi``).

``contracts.yaml`` has ``publishes:`` and ``consumes:`` maps of message name
to ``{schema: <inline JSON Schema or a path to a .json/.yaml file>}``
(``format: avro`` for an Avro schema); each name is both the channel and the
message on it. Every schema is checked against its metaschema and resolved
into one self-contained document (``payloads``).
"""

from __future__ import annotations

import posixpath
from typing import Any

from metarepo.errors import ManifestError, NotFoundError

from metarepo.contracts.documents import parse_document
from metarepo.contracts.model import AVRO, CONSUMER, JSON_SCHEMA, PRODUCER, Contract, Endpoint, Message, digest_of
from metarepo.contracts.payloads import DRAFT_2020, make_schema
from metarepo.contracts.refs import Bundler

CANDIDATES = ("contracts.yaml", "contracts.yml", "contracts.json", "asyncapi.yaml", "asyncapi.yml", "asyncapi.json")


def load_contract(source: Any, service: str, configured: str | None = None, *, reads: dict | None = None
                  ) -> Contract:
    """The contract of ``service`` read from ``source`` (a work tree or git at a ref).

    ``reads``, when given, is filled with every path read (or looked for)
    and its text (``None`` when absent): what the result depends on.
    """
    from metarepo.contracts.sources import GitTree, clean_path

    files = [clean_path(configured, f".meta: metarepo.projects.{service}.contracts")] if configured \
        else list(CANDIDATES)
    endpoints: list[Endpoint] = []
    notes: list[str] = []
    found = []
    seen: dict[tuple, Endpoint] = {}
    for relpath in files:
        text = source.read(relpath)
        if reads is not None:
            reads[relpath] = text
        if text is None:
            if configured and not isinstance(source, GitTree):
                raise NotFoundError(f"{source.label(relpath)}: no such contracts file",
                                    hint="fix the project's 'contracts' setting in .meta")
            continue
        found.append(relpath)
        reader = Reader(source, relpath, text, reads)
        document = reader.load(relpath)
        if isinstance(document, dict) and "asyncapi" in document:
            from metarepo.contracts.asyncapi import asyncapi_endpoints

            more, said = asyncapi_endpoints(document, relpath, reader)
            notes += said
        else:
            more = _contracts_yaml(document, relpath, reader)
        for endpoint in more:
            add_endpoint(seen, endpoint)
    endpoints = list(seen.values())
    return Contract(service=service, endpoints=tuple(endpoints), files=tuple(found), notes=tuple(notes))


class Reader:
    """Parsed documents of one source, each read once (for ``$ref`` to other files)."""

    def __init__(self, source: Any, first: str, text: str, reads: dict | None = None) -> None:
        self.source = source
        self.texts = {first: text}
        self.docs: dict[str, Any] = {}
        self.reads = reads

    def load(self, relpath: str) -> Any:
        if relpath not in self.docs:
            text = self.texts.get(relpath)
            if text is None:
                text = self.source.read(relpath)
                if self.reads is not None:
                    self.reads[relpath] = text
            if text is None:
                return None
            self.docs[relpath] = parse_document(text, self.source.label(relpath))
        return self.docs[relpath]

    def label(self, relpath: str) -> str:
        return self.source.label(relpath)

    def bundler(self, file: str, document: Any) -> Bundler:
        return Bundler(file, document, self.load, self.label)


def add_endpoint(seen: dict[tuple, Endpoint], endpoint: Endpoint) -> None:
    """Keep one endpoint per (role, message); the same message declared twice must have one schema."""
    key = (endpoint.role, endpoint.message)
    old = seen.get(key)
    if old is not None and old.schema.digest != endpoint.schema.digest and _content(old) != _content(endpoint):
        raise ManifestError(f"message {endpoint.message.label!r} is declared twice with different schemas "
                            f"({old.schema.source} and {endpoint.schema.source})",
                            file=endpoint.schema.source.split("#")[0])
    if old is None:
        seen[key] = endpoint


def _content(endpoint: Endpoint) -> str:
    document = endpoint.schema.document
    if isinstance(document, dict):
        document = {k: v for k, v in document.items() if k != "$schema"}
    return digest_of(document, endpoint.schema.format)


def where(reader: Reader, file: str, pointer: str) -> str:
    return f"{reader.label(file)}#{pointer}"


def _contracts_yaml(document: Any, file: str, reader: Reader) -> list[Endpoint]:
    label = reader.label(file)
    if document is None:
        return []
    if not isinstance(document, dict):
        raise ManifestError("the top level must be a mapping with 'publishes' and 'consumes'", file=label)
    for key in document:
        if key not in ("publishes", "consumes") and not str(key).startswith(("x-", "//")):
            raise ManifestError("unknown key (expected 'publishes' or 'consumes')", file=label, key=str(key))
    result: list[Endpoint] = []
    for section, role in (("publishes", PRODUCER), ("consumes", CONSUMER)):
        entries = document.get(section) or {}
        if not isinstance(entries, dict):
            raise ManifestError("must map message names to {schema: ...}", file=label, key=section)
        for name, entry in entries.items():
            key = f"{section}.{name}"
            if not isinstance(name, str) or not name:
                raise ManifestError("a message name must be a non-empty string", file=label, key=section)
            if not isinstance(entry, dict) or "schema" not in entry:
                raise ManifestError("needs a 'schema' (inline, or a path to a .json/.yaml file)",
                                    file=label, key=key)
            fmt = entry.get("format", JSON_SCHEMA.value)
            if fmt not in (JSON_SCHEMA.value, AVRO.value):
                raise ManifestError(f"unknown format {fmt!r} (json or avro)", file=label, key=f"{key}.format")
            spec = entry["schema"]
            if isinstance(spec, str):
                path = posixpath.normpath(posixpath.join(posixpath.dirname(file), spec))
                if path.startswith("..") or spec.startswith("/"):
                    raise ManifestError(f"schema path {spec!r} points outside the repository", file=label, key=key)
                loaded = reader.load(path)
                if loaded is None:
                    raise ManifestError(f"no schema file {spec!r}", file=label, key=f"{key}.schema")
                schema = make_schema(loaded, fmt, reader, path, "", where(reader, path, ""), DRAFT_2020)
            elif isinstance(spec, (dict, bool)):
                pointer = f"/{section}/{name}/schema"
                schema = make_schema(spec, fmt, reader, file, pointer, where(reader, file, pointer), DRAFT_2020,
                                     self_rooted=True)
            else:
                raise ManifestError("'schema' must be a mapping, a boolean or a file path", file=label,
                                    key=f"{key}.schema")
            result.append(Endpoint(role, Message(name, name), schema, operation=key))
    return result
