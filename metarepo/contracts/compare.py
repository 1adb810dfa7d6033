"""One comparison of two schemas, cached by content, and the OLD -> NEW question per role.

For a producer, the new schema is the writer and the old one the reader (can
consumers built for OLD read what NEW sends?); for a consumer, the old schema
is the writer and the new one the reader. Identical pairs are compared once:
the cache is keyed by both schemas' content hashes and the policy (and kept
between runs by ``cache``). A comparison that reaches a bound (``bounds``)
is ``UNDECIDED``, which no gate takes for compatible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metarepo.errors import UsageError

from metarepo.contracts.bounds import Undecidable, time_budget
from metarepo.contracts.model import (AVRO, CONSUMER, NO_EXAMPLE, PRODUCER, STRICT, Change, Compatibility, Policy,
                                      Role, Schema, Verdict)

_CACHE: dict[tuple[str, str, str], Verdict] = {}
POLICIES = tuple(p.value for p in Policy)
_POLICIES: dict[Any, Policy] = {**{p: p for p in Policy}, **{p.value: p for p in Policy}}


def compare_schemas(writer: Schema, reader: Schema, policy: str = STRICT) -> Verdict:
    """Can a reader built for ``reader`` accept every message ``writer`` allows?"""
    policy = _POLICIES.get(policy)  # type: ignore[assignment]
    if policy is None:
        raise UsageError(f"unknown policy {policy!r} (strict or lenient)")
    key = (writer.digest, reader.digest, policy.value)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    stored = "\0".join(key) if _STORE is not None else ""
    verdict = _STORE.verdict(stored) if _STORE is not None else None
    if verdict is None:
        verdict = _compare(writer, reader, policy)
        if _STORE is not None:
            _STORE.add_verdict(stored, verdict)
    _CACHE[key] = verdict
    return verdict


_STORE: Any = None  # a cache.ContractCache while a command uses one


def use_store(store: Any) -> Any:
    """Look verdicts up in (and add them to) ``store`` from now on; returns the one used before."""
    global _STORE
    previous, _STORE = _STORE, store
    return previous


def _compare(writer: Schema, reader: Schema, policy: Policy) -> Verdict:
    if writer.format != reader.format:
        return Verdict(Compatibility.BREAKING, (Change(
            "#", "schema_format_changed", True,
            f"the writer's schema is {writer.format.value}, the reader's {reader.format.value}"),))
    if writer.digest == reader.digest:
        return Verdict(Compatibility.COMPATIBLE)
    if writer.format == AVRO:
        from metarepo.contracts.avro_payloads import compare_avro

        return compare_avro(writer.document, reader.document)
    from metarepo.contracts.examples import find_example
    from metarepo.contracts.rules import Comparer

    try:
        with time_budget():
            changes = Comparer(writer.document, reader.document, policy).run()
    except RecursionError:
        raise UsageError("a schema is nested too deeply to compare") from None
    except Undecidable as exc:
        return Verdict(Compatibility.UNDECIDED, (Change("#", "undecided", True,
                                                        f"could not decide within the limit: {exc.reason}"),))
    changes = _unique(changes)
    breaking = any(c.breaking for c in changes)
    example = NO_EXAMPLE
    if breaking:
        with time_budget():
            example = find_example(writer.document, reader.document, changes)
    return Verdict(Compatibility.BREAKING if breaking else Compatibility.COMPATIBLE, tuple(changes), example)


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
    try:
        role = Role(role)
    except ValueError:
        raise UsageError(f"unknown role {role!r} (producer or consumer)") from None
    if role is PRODUCER:
        return compare_schemas(new, old, policy)
    return compare_schemas(old, new, policy)


def load_schema_file(file: Path) -> Schema:
    """One schema file given on the command line (JSON Schema, read as 2020-12 unless its ``$schema`` names
    another draft; ``.avsc`` for Avro), resolved and checked. Its ``$ref``s stay inside the current folder (or
    the file's own, when it is elsewhere), on disk too."""
    from metarepo.contracts.documents import parse_document
    from metarepo.contracts.loading import Reader
    from metarepo.contracts.payloads import DRAFT_2020, make_schema
    from metarepo.contracts.sources import WorkTree, read_bounded

    file = Path(file)
    if not file.exists():
        raise UsageError(f"{file}: no such file")
    text = read_bounded(file, str(file))
    # Relative $refs may reach anywhere under the current folder (or the file's own folder).
    here, absolute = Path.cwd().resolve(), file.resolve()
    root = here if absolute.is_relative_to(here) else absolute.parent
    name = absolute.relative_to(root).as_posix()
    source = WorkTree(root, str(root))
    reader = Reader(source, name, text)
    document = parse_document(text, str(file) if file.suffix != ".avsc" else f"{file}.json")
    reader.docs[name] = document
    fmt = AVRO if file.suffix == ".avsc" else "json"
    return make_schema(document, fmt, reader, name, "", str(file), DRAFT_2020)
