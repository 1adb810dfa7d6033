"""Building schemas for the tests: bundle like the loader does, compare, and re-check every example."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, validators

from metarepo.contracts.compare import compare_schemas
from metarepo.contracts.model import Schema, Verdict
from metarepo.contracts.refs import Bundler

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def schema(document: Any, draft: str = DRAFT) -> Schema:
    bundled = Bundler("s.json", document, lambda path: None, str).bundle(document, "s.json", "", draft)
    if isinstance(bundled, dict) and "$schema" not in bundled:
        bundled = {"$schema": draft, **bundled}
    return Schema.of(bundled)


def verdict(writer: Any, reader: Any, policy: str = "strict", draft: str = DRAFT) -> Verdict:
    result = compare_schemas(schema(writer, draft), schema(reader, draft), policy)
    if result.has_example:
        assert_example(result.example, schema(writer, draft).document, schema(reader, draft).document)
    return result


def assert_example(example: Any, writer: Any, reader: Any) -> None:
    """The claim every shown example makes: the writer accepts it and the reader rejects it."""
    def valid(root: Any) -> bool:
        cls = validators.validator_for(root, default=Draft202012Validator) if isinstance(root, dict) \
            else Draft202012Validator
        return cls(root).is_valid(example)

    assert valid(writer), f"the writer rejects the example {example!r}"
    assert not valid(reader), f"the reader accepts the example {example!r}"


def kinds(result: Verdict, breaking: bool | None = True) -> set[str]:
    return {c.kind for c in result.changes if breaking is None or c.breaking == breaking}
