"""A service's contract files to a ``Contract``: ``contracts.yaml`` and AsyncAPI 2.x/3.x.

``contracts.yaml`` has ``publishes:`` and ``consumes:`` maps of message name
to ``{schema: <inline JSON Schema or a path to a .json/.yaml file>}``
(``format: avro`` for an Avro schema). In AsyncAPI 3.x an operation with
``action: send`` publishes and ``receive`` consumes, the message name being
its channel's ``address``; in 2.x a channel's ``subscribe`` is what the app
sends and ``publish`` what it receives, the channel name being the message
name. Every schema is checked against its metaschema and resolved into one
self-contained document.
"""

from __future__ import annotations

import posixpath
from typing import Any, Callable

from metarepo.errors import ManifestError, NotFoundError

from metarepo.contracts.documents import parse_document
from metarepo.contracts.model import AVRO, JSON_SCHEMA, Contract, Schema, digest_of
from metarepo.contracts.refs import Bundler

CANDIDATES = ("contracts.yaml", "contracts.yml", "contracts.json", "asyncapi.yaml", "asyncapi.yml", "asyncapi.json")
DRAFT_2020 = "https://json-schema.org/draft/2020-12/schema"
DRAFT_7 = "http://json-schema.org/draft-07/schema#"
_CHECKED: set[str] = set()


def load_contract(source: Any, service: str, configured: str | None = None) -> Contract:
    """The contract of ``service`` read from ``source`` (a work tree or git at a ref)."""
    from metarepo.contracts.sources import GitTree, clean_path

    files = [clean_path(configured, f".meta: metarepo.projects.{service}.contracts")] if configured \
        else list(CANDIDATES)
    publishes: dict[str, Schema] = {}
    consumes: dict[str, Schema] = {}
    found = []
    for relpath in files:
        text = source.read(relpath)
        if text is None:
            if configured and not isinstance(source, GitTree):
                raise NotFoundError(f"{source.label(relpath)}: no such contracts file",
                                    hint="fix the project's 'contracts' setting in .meta")
            continue
        found.append(relpath)
        reader = _Reader(source, relpath, text)
        document = reader.load(relpath)
        if isinstance(document, dict) and "asyncapi" in document:
            pubs, subs = _asyncapi(document, relpath, reader)
        else:
            pubs, subs = _contracts_yaml(document, relpath, reader)
        for table, more in ((publishes, pubs), (consumes, subs)):
            for name, schema in more.items():
                _add(table, name, schema)
    return Contract(service=service, publishes=publishes, consumes=consumes, files=tuple(found))


class _Reader:
    """Parsed documents of one source, each read once (for ``$ref`` to other files)."""

    def __init__(self, source: Any, first: str, text: str) -> None:
        self.source = source
        self.texts = {first: text}
        self.docs: dict[str, Any] = {}

    def load(self, relpath: str) -> Any:
        if relpath not in self.docs:
            text = self.texts.get(relpath)
            if text is None:
                text = self.source.read(relpath)
            if text is None:
                return None
            self.docs[relpath] = parse_document(text, self.source.label(relpath))
        return self.docs[relpath]

    def label(self, relpath: str) -> str:
        return self.source.label(relpath)

    def bundler(self, file: str, document: Any) -> Bundler:
        return Bundler(file, document, self.load, self.label)


def _add(table: dict[str, Schema], name: str, schema: Schema) -> None:
    old = table.get(name)
    if old is not None and old.digest != schema.digest and _content(old) != _content(schema):
        raise ManifestError(f"message {name!r} is declared twice with different schemas "
                            f"({old.source} and {schema.source})", file=schema.source.split("#")[0])
    table[name] = schema


def _content(schema: Schema) -> str:
    document = schema.document
    if isinstance(document, dict):
        document = {k: v for k, v in document.items() if k != "$schema"}
    return digest_of(document, schema.format)


def _where(reader: _Reader, file: str, key: str) -> str:
    return f"{reader.label(file)}#{key}"


# -- contracts.yaml --------------------------------------------------------


def _contracts_yaml(document: Any, file: str, reader: _Reader) -> tuple[dict, dict]:
    label = reader.label(file)
    if document is None:
        return {}, {}
    if not isinstance(document, dict):
        raise ManifestError("the top level must be a mapping with 'publishes' and 'consumes'", file=label)
    for key in document:
        if key not in ("publishes", "consumes") and not str(key).startswith(("x-", "//")):
            raise ManifestError("unknown key (expected 'publishes' or 'consumes')", file=label, key=str(key))
    result: list[dict] = []
    for section in ("publishes", "consumes"):
        table: dict[str, Schema] = {}
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
            fmt = entry.get("format", JSON_SCHEMA)
            if fmt not in (JSON_SCHEMA, AVRO):
                raise ManifestError(f"unknown format {fmt!r} (json or avro)", file=label, key=f"{key}.format")
            spec = entry["schema"]
            if isinstance(spec, str):
                path = posixpath.normpath(posixpath.join(posixpath.dirname(file), spec))
                if path.startswith("..") or spec.startswith("/"):
                    raise ManifestError(f"schema path {spec!r} points outside the repository", file=label, key=key)
                loaded = reader.load(path)
                if loaded is None:
                    raise ManifestError(f"no schema file {spec!r}", file=label, key=f"{key}.schema")
                schema = _make(loaded, fmt, reader, path, "", _where(reader, path, ""), DRAFT_2020)
            elif isinstance(spec, (dict, bool)):
                pointer = f"/{section}/{name}/schema"
                schema = _make(spec, fmt, reader, file, pointer, _where(reader, file, pointer), DRAFT_2020,
                               self_rooted=True)
            else:
                raise ManifestError("'schema' must be a mapping, a boolean or a file path", file=label,
                                    key=f"{key}.schema")
            _add(table, name, schema)
        result.append(table)
    return result[0], result[1]


def _make(node: Any, fmt: str, reader: _Reader, file: str, pointer: str, where: str, draft: str,
          *, self_rooted: bool = False, document: Any = None) -> Schema:
    """Resolve, check and wrap one payload schema found at ``pointer`` in ``file``."""
    if fmt == AVRO:
        from metarepo.contracts.avro_payloads import parse_avro

        parse_avro(node, where)
        return Schema.of(node, AVRO, where)
    try:
        if self_rooted:  # an inline schema: "#" means the schema itself
            bundled = reader.bundler(file, node).bundle(node, file, "", draft)
        else:
            bundled = reader.bundler(file, document if document is not None else reader.load(file)).bundle(
                node, file, pointer, draft)
    except ManifestError as exc:  # a $ref in this schema's own file: name the schema, not just the file
        own = f"{reader.label(file)}: "
        if exc.line is None and exc.message.startswith(own) and where != reader.label(file):
            raise ManifestError(exc.message[len(own):], file=where, hint=exc.hint) from None
        raise
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


# -- AsyncAPI --------------------------------------------------------------


def _asyncapi(document: dict, file: str, reader: _Reader) -> tuple[dict, dict]:
    label = reader.label(file)
    version = document.get("asyncapi")
    major = str(version).split(".")[0] if isinstance(version, str) else None
    if major not in ("2", "3"):
        raise ManifestError(f"unknown AsyncAPI version {version!r} (2.x and 3.x are supported)",
                            file=label, key="asyncapi")
    follow = _follower(reader, file, document)
    channels = document.get("channels") or {}
    if not isinstance(channels, dict):
        raise ManifestError("must be a mapping", file=label, key="channels")
    publishes: dict[str, Schema] = {}
    consumes: dict[str, Schema] = {}
    if major == "2":
        for channel_name, channel in channels.items():
            channel, ch_file, ch_ptr = follow(channel, f"/channels/{_escape(channel_name)}")
            if not isinstance(channel, dict):
                raise ManifestError("must be a mapping", file=label, key=f"channels.{channel_name}")
            for verb, table in (("subscribe", publishes), ("publish", consumes)):
                operation = channel.get(verb)
                if operation is None:
                    continue
                operation, op_file, op_ptr = follow(operation, f"{ch_ptr}/{verb}", ch_file)  # refs from its file
                message = operation.get("message") if isinstance(operation, dict) else None
                if message is None:
                    raise ManifestError("needs a 'message'", file=label, key=f"channels.{channel_name}.{verb}")
                message, m_file, m_ptr = follow(message, f"{op_ptr}/message", op_file)
                if isinstance(message, dict) and isinstance(message.get("oneOf"), list):
                    parts = [follow(m, f"{m_ptr}/oneOf/{i}", m_file) for i, m in enumerate(message["oneOf"])]
                else:
                    parts = [(message, m_file, m_ptr)]
                _add(table, str(channel_name), _payloads(parts, reader, DRAFT_7,
                                                         (label, f"channels.{channel_name}.{verb}.message")))
        return publishes, consumes
    operations = document.get("operations") or {}
    if not isinstance(operations, dict):
        raise ManifestError("must be a mapping", file=label, key="operations")
    for op_id, operation in operations.items():
        operation, op_file, op_ptr = follow(operation, f"/operations/{_escape(op_id)}")
        key = f"operations.{op_id}"
        if not isinstance(operation, dict):
            raise ManifestError("must be a mapping", file=label, key=key)
        action = operation.get("action")
        if action not in ("send", "receive"):
            raise ManifestError(f"'action' must be send or receive, not {action!r}", file=label, key=key)
        if "channel" not in operation:
            raise ManifestError("needs a 'channel'", file=label, key=key)
        channel, ch_file, ch_ptr = follow(operation["channel"], f"{op_ptr}/channel", op_file)
        if not isinstance(channel, dict):
            raise ManifestError("the channel must be a mapping", file=label, key=f"{key}.channel")
        name = channel.get("address") or ch_ptr.rsplit("/", 1)[-1]
        messages = operation.get("messages")
        if messages is None:
            messages = list((channel.get("messages") or {}).values())
            parts = [follow(m, f"{ch_ptr}/messages", ch_file) for m in messages]
        else:
            parts = [follow(m, f"{op_ptr}/messages/{i}", op_file) for i, m in enumerate(messages)]
        table = publishes if action == "send" else consumes
        _add(table, str(name), _payloads(parts, reader, DRAFT_7, (label, key)))
    return publishes, consumes


def _escape(name: Any) -> str:
    return str(name).replace("~", "~0").replace("/", "~1")


def _follower(reader: _Reader, file: str, document: Any) -> Callable[..., tuple[Any, str, str]]:
    """Follow ``$ref``s between AsyncAPI objects: (object, its file, its pointer)."""
    bundler = reader.bundler(file, document)

    def follow(node: Any, pointer: str, at: str = file) -> tuple[Any, str, str]:
        hops = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            node, (at, pointer) = bundler._lookup(bundler._locate(ref, at), ref, at)
            hops += 1
            if hops > 32:
                raise ManifestError(f"$ref {ref!r} loops", file=reader.label(at))
        return node, at, pointer

    return follow


def _payloads(parts: list[tuple[Any, str, str]], reader: _Reader, draft: str, at: tuple[str, str]) -> Schema:
    """One schema for the message(s) of an operation: a union when there are several."""
    if not parts:
        raise ManifestError("names no message (in the operation or its channel): nothing to check", file=at[0],
                            key=at[1])
    schemas = []
    for message, file, pointer in parts:
        where = _where(reader, file, pointer)
        if not isinstance(message, dict):
            raise ManifestError("a message must be a mapping", file=where)
        payload = message.get("payload", True)
        fmt_name = message.get("schemaFormat")
        p_pointer = f"{pointer}/payload"
        if isinstance(payload, dict) and "schemaFormat" in payload and "schema" in payload:
            fmt_name, payload, p_pointer = payload["schemaFormat"], payload["schema"], f"{p_pointer}/schema"
        fmt = _format(fmt_name, where)
        if fmt == AVRO and isinstance(payload, dict) and "$ref" in payload:
            payload, file, p_pointer = _follower(reader, file, reader.load(file))(payload, p_pointer, file)
        schemas.append(_make(payload, fmt, reader, file, p_pointer, _where(reader, file, p_pointer),
                             _draft_of(fmt_name, draft), document=reader.load(file)))
    if len(schemas) == 1:
        return schemas[0]
    if all(s.format == AVRO for s in schemas):
        return Schema.of([s.document for s in schemas], AVRO, schemas[0].source)
    if any(s.format == AVRO for s in schemas):
        raise ManifestError("one operation mixes Avro and JSON Schema payloads", file=schemas[0].source)
    drafts = {s.document.get("$schema") if isinstance(s.document, dict) else draft for s in schemas}
    union = {"$schema": drafts.pop() if len(drafts) == 1 else draft,
             "anyOf": [_strip_schema(s.document) for s in schemas]}
    return Schema.of(union, JSON_SCHEMA, schemas[0].source)


def _strip_schema(document: Any) -> Any:
    if isinstance(document, dict):
        document = {k: v for k, v in document.items() if k != "$schema"}
        if "$defs" in document:  # keep recursive definitions reachable from the union's root
            raise ManifestError("a recursive payload inside a multi-message operation is not supported")
    return document


_DRAFTS = {"draft-04": "http://json-schema.org/draft-04/schema#", "draft-06": "http://json-schema.org/draft-06/schema#",
           "draft-07": DRAFT_7, "2019-09": "https://json-schema.org/draft/2019-09/schema", "2020-12": DRAFT_2020}


def _draft_of(name: Any, default: str) -> str:
    """The JSON Schema draft a ``schemaFormat`` names (``application/schema+json;version=2020-12``)."""
    text = str(name or "").lower().replace(" ", "")
    if text.startswith(("application/schema+json", "application/schema+yaml")):
        version = text.partition("version=")[2].split(";")[0]
        return _DRAFTS.get(version, default)
    return default  # AsyncAPI's own schema format is a superset of draft-07


def _format(name: Any, where: str) -> str:
    if name is None:
        return JSON_SCHEMA
    text = str(name).lower()
    if text.startswith("application/vnd.apache.avro"):
        return AVRO
    if text.startswith(("application/vnd.aai.asyncapi", "application/schema+json", "application/schema+yaml")):
        return JSON_SCHEMA
    raise ManifestError(f"unsupported schemaFormat {name!r} (JSON Schema, AsyncAPI Schema or Avro)", file=where)
