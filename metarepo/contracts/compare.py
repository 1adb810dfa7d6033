"""One comparison of two schemas, cached by content, and the OLD -> NEW question per role.

For a producer, the new schema is the writer and the old one the reader (can
consumers built for OLD read what NEW sends?); for a consumer, the old schema
is the writer and the new one the reader. Identical pairs are compared once:
the cache is keyed by both schemas' content hashes and the policy.
"""

from __future__ import annotations

from pathlib import Path

from metarepo.errors import UsageError

from metarepo.contracts.model import AVRO, CONSUMER, NO_EXAMPLE, PRODUCER, STRICT, Change, Schema, Verdict

_CACHE: dict[tuple[str, str, str], Verdict] = {}
POLICIES = ("strict", "lenient")


def compare_schemas(writer: Schema, reader: Schema, policy: str = STRICT) -> Verdict:
    """Can a reader built for ``reader`` accept every message ``writer`` allows?"""
    if policy not in POLICIES:
        raise UsageError(f"unknown policy {policy!r} (strict or lenient)")
    key = (writer.digest, reader.digest, policy)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    verdict = _compare(writer, reader, policy)
    _CACHE[key] = verdict
    return verdict


def _compare(writer: Schema, reader: Schema, policy: str) -> Verdict:
    if writer.format != reader.format:
        return Verdict(False, (Change("#", "schema_format_changed", True,
                                      f"the writer's schema is {writer.format}, the reader's {reader.format}"),))
    if writer.digest == reader.digest:
        return Verdict(True)
    if writer.format == AVRO:
        from metarepo.contracts.avro_payloads import compare_avro

        return compare_avro(writer.document, reader.document)
    from metarepo.contracts.examples import find_example
    from metarepo.contracts.rules import Comparer

    try:
        changes = Comparer(writer.document, reader.document, policy).run()
    except RecursionError:
        raise UsageError("a schema is nested too deeply to compare") from None
    changes = _unique(changes)
    breaking = any(c.breaking for c in changes)
    example = find_example(writer.document, reader.document, changes) if breaking else NO_EXAMPLE
    return Verdict(not breaking, tuple(changes), example)


def _unique(changes: list[Change]) -> list[Change]:
    seen, out = set(), []
    for change in changes:
        key = (change.path, change.kind, change.breaking, change.message)
        if key not in seen:
            seen.add(key)
            out.append(change)
    return out


def compare_change(old: Schema, new: Schema, role: str, policy: str = STRICT) -> Verdict:
    """Is the change from ``old`` to ``new`` safe for a service in ``role`` (producer or consumer)?"""
    if role == PRODUCER:
        return compare_schemas(new, old, policy)
    if role == CONSUMER:
        return compare_schemas(old, new, policy)
    raise UsageError(f"unknown role {role!r} (producer or consumer)")


def load_schema_file(file: Path) -> Schema:
    """One schema file given on the command line (JSON Schema; ``.avsc`` for Avro), resolved and checked."""
    from metarepo.contracts.documents import parse_document
    from metarepo.contracts.loading import DRAFT_2020, _make, _Reader
    from metarepo.contracts.sources import WorkTree

    file = Path(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{file}: no such file") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: cannot read it ({exc.__class__.__name__})") from None
    # Relative $refs may reach anywhere under the current folder (or the file's own folder).
    here, absolute = Path.cwd().resolve(), file.resolve()
    root = here if absolute.is_relative_to(here) else absolute.parent
    name = absolute.relative_to(root).as_posix()
    source = WorkTree(root, str(root))
    reader = _Reader(source, name, text)
    document = parse_document(text, str(file) if file.suffix != ".avsc" else f"{file}.json")
    reader.docs[name] = document
    fmt = AVRO if file.suffix == ".avsc" else "json"
    return _make(document, fmt, reader, name, "", str(file), DRAFT_2020)
