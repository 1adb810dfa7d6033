"""What was parsed and compared in earlier runs, kept in ``.metarepo/contracts-cache.json``.

Reading a fleet's contract files (YAML, ``$ref``s, metaschema checks) and
comparing its schemas is most of what ``meta contracts check`` and ``meta
graph`` cost, and between two runs almost nothing changes. So each
project's contract is kept with the SHA-1 of every file it was read from
(a work tree: each file is read and hashed again, and any change, new file
or removed file reads the project afresh; git at a commit: the commit is the
key), and each verdict under its two schemas' content hashes and policy. The
whole cache belongs to one version of the parsing and comparing code and
of the packages it uses: any change to them starts it afresh. Schema
documents are kept once each, by content hash, and decoded only when a
comparison is not known yet. It is only a
cache: written atomically (a temp file renamed into place; of two runs
writing at once, the last one wins), and a missing, unreadable or foreign
file is simply no cache.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from metarepo.contracts.model import (NO_EXAMPLE, Bindings, Change, Compatibility, Contract, Endpoint, Format,
                                      Message, Role, Schema, Verdict)

CACHE_FILE = "contracts-cache.json"
_MAX_CONTRACTS = 50_000
_MAX_VERDICTS = 200_000


@lru_cache(maxsize=None)
def code_version() -> str:
    """Changes whenever what is cached could: this package's code and the packages it reads and compares with."""
    from importlib import metadata

    digest = hashlib.sha256()
    for module in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(module.name.encode() + b"\0" + module.read_bytes())
    for package in ("PyYAML", "jsonschema", "avro", "regex"):
        try:
            digest.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package}=none".encode())
    return digest.hexdigest()


def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class ContractCache:
    """Contracts and verdicts from earlier runs, and the ones this run adds.

    The file is two JSON documents, one a line: the contracts and verdicts,
    then the schema documents by content hash, which are decoded only when a
    comparison is not known yet (on an unchanged fleet, never).
    """

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self.contracts: dict[str, dict] = {}
        self.verdicts: dict[str, Any] = {}
        self.changed = False
        self.words: list[str] = []
        self._index: dict[str, int] = {}
        self._schemas_text = ""
        self._schemas: dict[str, str] | None = None
        self._new_schemas: dict[str, Any] = {}
        if file is None:
            return
        try:
            head, _, self._schemas_text = file.read_text(encoding="utf-8").partition("\n")
            data = json.loads(head)
            if isinstance(data, dict) and data.get("version") == code_version():
                self.contracts = data["contracts"]
                self.verdicts = data["verdicts"]
                self.words = data["words"]
                self._index = {text: i for i, text in enumerate(self.words)}
            else:
                self._schemas_text = ""
        except (OSError, ValueError, KeyError, TypeError):
            self.contracts, self.verdicts, self._schemas_text, self.words, self._index = {}, {}, "", [], {}

    # -- contracts -------------------------------------------------------------

    def contract(self, source: Any, service: str, configured: str | None,
                 load: Callable[[dict], Contract]) -> Contract:
        """``service``'s contract from ``source``: the kept one if none of its files changed, else ``load``'s."""
        commit = getattr(source, "commit", None)
        key = "\0".join(("git", source.name, commit, configured or "")) if commit else \
            "\0".join(("work", str(source.root), service, configured or ""))
        entry = self.contracts.get(key)
        if entry is not None and (commit or all(_sha(source.read(path)) == sha
                                                for path, sha in entry["reads"].items())):
            try:
                contract = _contract(entry["contract"], self)
            except (KeyError, TypeError, ValueError):
                contract = None
            if contract is not None and contract.service == service:
                self.contracts[key] = self.contracts.pop(key)  # used: kept longest
                return contract
        reads: dict[str, str | None] = {}
        contract = load(reads)
        try:
            encoded = _encode_contract(contract, self._new_schemas)
        except (TypeError, ValueError, RecursionError):  # only what JSON keeps exactly (no non-string keys, say)
            encoded = None
        if encoded is not None:
            self.contracts.pop(key, None)
            self.contracts[key] = {"reads": {p: _sha(t) for p, t in reads.items()}, "contract": encoded}
            self.changed = True
        return contract

    def schema_document(self, digest: str) -> Any:
        if digest in self._new_schemas:
            return self._new_schemas[digest]
        if self._schemas is None:
            try:
                self._schemas = json.loads(self._schemas_text) if self._schemas_text else {}
            except ValueError:
                self._schemas = {}
        return json.loads(self._schemas[digest])  # the same file wrote both halves: it is there

    # -- verdicts --------------------------------------------------------------

    def verdict(self, key: str) -> Verdict | None:
        raw = self.verdicts.get(key)
        if raw is None:
            return None
        try:
            return _verdict(raw, self.words)
        except (KeyError, TypeError, ValueError):
            return None

    def _word(self, text: str) -> int:
        """The index of ``text`` in the table of the kinds and messages of kept changes (each text once)."""
        index = self._index.get(text)
        if index is None:
            index = self._index[text] = len(self.words)
            self.words.append(text)
        return index

    def add_verdict(self, key: str, verdict: Verdict) -> None:
        encoded = {"s": verdict.state.value, "c": [[c.path, self._word(c.kind), c.breaking, self._word(c.message)]
                                                  for c in verdict.changes]}
        if verdict.has_example:
            encoded["e"] = verdict.example
        try:
            _exact(encoded)
        except (TypeError, ValueError, RecursionError):
            return
        self.verdicts[key] = encoded
        self.changed = True

    def save(self) -> None:
        if self.file is None or not self.changed:
            return
        from metarepo.manifest import write_atomic

        contracts = dict(list(self.contracts.items())[-_MAX_CONTRACTS:])
        verdicts = dict(list(self.verdicts.items())[-_MAX_VERDICTS:])
        used = {e[7] for entry in contracts.values() for e in entry["contract"]["endpoints"]}
        if self._schemas is None:
            try:
                self._schemas = json.loads(self._schemas_text) if self._schemas_text else {}
            except ValueError:
                self._schemas = {}
        schemas = {d: t for d, t in self._schemas.items() if d in used}
        schemas.update({d: _exact(doc) for d, doc in self._new_schemas.items() if d in used})
        head = json.dumps({"version": code_version(), "contracts": contracts, "verdicts": verdicts,
                           "words": self.words},
                          ensure_ascii=False, separators=(",", ":"))
        try:
            write_atomic(self.file, head + "\n" + json.dumps(schemas, ensure_ascii=False, separators=(",", ":")),
                         durable=False)
        except OSError:
            pass  # a cache that cannot be written only costs time


@contextmanager
def contracts_cache(manifest: Any) -> Iterator[ContractCache]:
    """The meta repo's cache for the duration of one command (its verdicts used by ``compare``), then saved."""
    from metarepo.contracts import compare

    try:
        file: Path | None = manifest.ensure_state_dir() / CACHE_FILE
    except OSError:
        file = None
    cache = ContractCache(file)
    previous = compare.use_store(cache)
    try:
        yield cache
    finally:
        compare.use_store(previous)
    cache.save()


# -- JSON forms ------------------------------------------------------------------


_ROLES = {r.value: r for r in Role}
_FORMATS = {f.value: f for f in Format}
_STATES = {c.value: c for c in Compatibility}
_UNREAD = object()


class _KeptSchema(Schema):
    """A schema from the cache: its document is decoded the first time it is used, which on an unchanged fleet
    is never: every verdict is kept too."""

    @property
    def document(self) -> Any:  # type: ignore[override]
        value = self.__dict__.get("_document", _UNREAD)
        if value is _UNREAD:
            value = self.__dict__["_document"] = self.__dict__["_cache"].schema_document(self.digest)
        return value

    @classmethod
    def kept(cls, cache: "ContractCache", fmt: str, source: str, digest: str) -> "_KeptSchema":
        schema = object.__new__(cls)
        schema.__dict__.update(format=_FORMATS[fmt], source=source, digest=digest, _cache=cache)
        return schema


def _exact(value: Any) -> str:
    """``value`` as JSON text; ``ValueError`` when reading it back would not give ``value`` again."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if json.loads(text) != value:
        raise ValueError("not kept exactly by JSON")
    return text


def _encode_contract(contract: Contract, schemas: dict[str, Any]) -> dict:
    for endpoint in contract.endpoints:
        if endpoint.schema.digest not in schemas and not isinstance(endpoint.schema, _KeptSchema):
            _exact(endpoint.schema.document)
            schemas[endpoint.schema.digest] = endpoint.schema.document
        _exact(endpoint.bindings.as_json())
    return {"service": contract.service, "files": list(contract.files), "notes": list(contract.notes),
            "endpoints": [[e.role.value, e.message.channel, e.message.name, e.operation, e.reply,
                           e.schema.format.value, e.schema.source, e.schema.digest, e.bindings.as_json()]
                          for e in contract.endpoints]}


def _contract(data: dict, cache: "ContractCache") -> Contract:
    endpoints = []
    for role, channel, name, operation, reply, fmt, source, digest, bindings in data["endpoints"]:
        schema = _KeptSchema.kept(cache, fmt, source, digest)
        endpoints.append(Endpoint(_ROLES[role], Message(channel, name), schema, operation,
                                  Bindings(bindings.get("channel", {}), bindings.get("operation", {}),
                                           bindings.get("message", {})) if bindings else _NO_BINDINGS, reply))
    return Contract(data["service"], tuple(endpoints), tuple(data["files"]), tuple(data["notes"]))


_NO_BINDINGS = Bindings()


def _change(path: str, kind: str, breaking: bool, message: str) -> Change:
    change = object.__new__(Change)  # a frozen dataclass's __init__ without its cost: thousands a run
    change.__dict__.update(path=path, kind=kind, breaking=bool(breaking), message=message, where=(), writer=None,
                           reader=None)
    return change


def _verdict(raw: dict, words: list[str]) -> Verdict:
    changes = tuple(_change(path, words[kind], breaking, words[message]) for path, kind, breaking, message in raw["c"])
    return Verdict(_STATES[raw["s"]], changes, raw["e"] if "e" in raw else NO_EXAMPLE)
