"""Property tests: random schemas never crash the comparer, a schema is compatible with itself,
and every example shown is accepted by the writer and rejected by the reader."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from metarepo.contracts.rules import Comparer

from .schemas import schema, verdict

NAMES = st.sampled_from(["a", "b", "c", "id"])
SMALL = st.integers(min_value=0, max_value=6)
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["a", "b", "xy"]))

leaf = st.one_of(
    st.just({}), st.just(True), st.just(False),
    st.builds(lambda t: {"type": t}, st.sampled_from(["string", "integer", "number", "boolean", "null"])),
    st.builds(lambda t: {"type": t}, st.lists(st.sampled_from(["string", "integer", "null"]), min_size=1,
                                                unique=True)),
    st.builds(lambda lo, hi: {"type": "string", "minLength": lo, "maxLength": lo + hi}, SMALL, SMALL),
    st.builds(lambda p: {"type": "string", "pattern": p}, st.sampled_from(["^a", "b$", "^[0-9]+$", "x"])),
    st.builds(lambda lo, hi, m: {"type": "number", "minimum": lo, "maximum": lo + hi, "multipleOf": m},
              st.integers(-5, 5), SMALL, st.sampled_from([1, 2, 0.5, 3])),
    st.builds(lambda lo: {"type": "integer", "exclusiveMinimum": lo}, st.integers(-5, 5)),
    st.builds(lambda vs: {"enum": vs}, st.lists(VALUES, min_size=1, max_size=4, unique_by=repr)),
    st.builds(lambda v: {"const": v}, VALUES),
)


def extend(children):
    props = st.dictionaries(NAMES, children, max_size=3)
    return st.one_of(
        st.builds(lambda p, r, a: {"type": "object", "properties": p, "required": r, "additionalProperties": a},
                  props, st.lists(NAMES, unique=True, max_size=3), st.one_of(st.just(True), st.just(False), children)),
        st.builds(lambda p, pp: {"type": "object", "properties": p, "patternProperties": {"^x": pp}}, props, children),
        st.builds(lambda i, u, lo: {"type": "array", "items": i, "uniqueItems": u, "minItems": lo}, children,
                  st.booleans(), SMALL),
        st.builds(lambda pre, rest: {"type": "array", "prefixItems": pre, "items": rest},
                  st.lists(children, max_size=3), st.one_of(st.just(False), children)),
        st.builds(lambda bs: {"anyOf": bs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda bs: {"oneOf": bs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda bs: {"allOf": bs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda n: {"not": n}, children),
        # keywords beyond Confluent's list
        st.builds(lambda p, d: {"type": "object", "properties": p, "dependentRequired": d}, props,
                  st.dictionaries(NAMES, st.lists(NAMES, unique=True, max_size=2), max_size=2)),
        st.builds(lambda p, d: {"type": "object", "properties": p, "dependentSchemas": d}, props,
                  st.dictionaries(NAMES, children, max_size=2)),
        st.builds(lambda p, n, a: {"type": "object", "properties": p, "propertyNames": n,
                                   "additionalProperties": a}, props,
                  st.one_of(st.builds(lambda m: {"maxLength": m}, SMALL), st.just({"enum": ["a", "b", "xy"]})),
                  st.booleans()),
        st.builds(lambda i, t, e: {"if": i, "then": t, "else": e}, children, children, children),
        st.builds(lambda c, lo, more: {"type": "array", "contains": c, "minContains": lo, "maxContains": lo + more},
                  children, st.integers(0, 2), st.integers(0, 2)),
        st.builds(lambda p, bs, u: {"type": "object", "properties": p, "allOf": bs, "unevaluatedProperties": u},
                  props, st.lists(children, max_size=2), st.one_of(st.just(False), children)),
        st.builds(lambda pre, u: {"type": "array", "prefixItems": pre, "unevaluatedItems": u},
                  st.lists(children, max_size=2), st.one_of(st.just(False), children)),
    )


SCHEMAS = st.recursive(leaf, extend, max_leaves=8)
PROPERTY = settings(max_examples=int(__import__("os").environ.get("HYPOTHESIS_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def valid_schema(document) -> bool:
    try:
        Draft202012Validator.check_schema(document)
        return True
    except Exception:  # noqa: BLE001
        return False


@PROPERTY
@given(SCHEMAS, SCHEMAS, st.sampled_from(["strict", "lenient"]))
def test_random_schemas_never_crash_and_examples_hold(writer, reader, policy):
    assume(valid_schema(writer) and valid_schema(reader))
    result = verdict(writer, reader, policy)  # re-validates any example against both schemas
    assert isinstance(result.compatible, bool)
    if not result.compatible:
        assert any(c.breaking for c in result.changes)


@PROPERTY
@given(SCHEMAS)
def test_a_schema_is_compatible_with_itself(document):
    assume(valid_schema(document))
    bundled = schema(document).document
    twin = copy.deepcopy(bundled)  # a distinct object, so no shortcut on identity or content hash
    if isinstance(twin, dict):
        twin["description"] = "the same schema, written differently at the top"
    changes = Comparer(bundled, twin).run()
    assert not [c for c in changes if c.breaking], [c.as_json() for c in changes]


@PROPERTY
@given(SCHEMAS, SCHEMAS)
def test_compatible_means_the_reader_accepts_what_the_writer_sends(writer, reader):
    """Soundness, as far as generated messages reach: no writer-valid message is rejected after 'compatible'."""
    from metarepo.contracts.compare import compare_schemas
    from metarepo.contracts.examples import _Generator, validator

    assume(valid_schema(writer) and valid_schema(reader))
    w, r = schema(writer), schema(reader)
    if not compare_schemas(w, r).compatible:
        return
    writer_ok, reader_ok = validator(w.document), validator(r.document)
    for message in _Generator(w.document).values(w.document, hint=r.document)[:200]:
        if writer_ok(message):
            assert reader_ok(message), message


KEYWORDS = st.sampled_from(["type", "properties", "required", "items", "prefixItems", "additionalProperties",
                            "enum", "const", "anyOf", "oneOf", "allOf", "not", "$ref", "minimum", "maxLength",
                            "pattern", "multipleOf", "dependentRequired", "propertyNames", "if", "then", "contains",
                            "unevaluatedProperties", "$defs", "a", "x-y"])
ANYTHING = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
              st.sampled_from(["string", "object", "#", "#/$defs/a", "#/nope", "other.json", "^a(", "a"])),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(KEYWORDS, children, max_size=4)),
    max_leaves=12)


@PROPERTY
@given(st.one_of(SCHEMAS, ANYTHING), st.one_of(SCHEMAS, ANYTHING), st.sampled_from(["strict", "lenient"]))
def test_any_document_as_a_schema_is_a_verdict_or_one_clear_error(writer, reader, policy):
    """Whatever a contract file says (valid JSON Schema or not), the tool answers or says what is wrong."""
    import json
    import tempfile
    from pathlib import Path

    from metarepo.contracts.compare import compare_schemas
    from metarepo.contracts.loading import load_contract
    from metarepo.contracts.sources import WorkTree
    from metarepo.errors import MetaError

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        document = {"publishes": {"m": {"schema": writer}}, "consumes": {"m": {"schema": reader}}}
        (root / "contracts.json").write_text(json.dumps(document))
        try:
            contract = load_contract(WorkTree(root, "svc"), "svc")
        except MetaError as exc:
            assert exc.exit_code == 2 and "\n" not in str(exc), str(exc)
            event("refused")
            return
    event("compared")
    (writer,), (reader,) = contract.publishes.values(), contract.consumes.values()
    result = compare_schemas(writer, reader, policy)
    assert isinstance(result.compatible, bool)


ASYNC_KEYS = st.sampled_from(["address", "messages", "message", "payload", "publish", "subscribe", "oneOf", "$ref",
                              "schemaFormat", "schema", "action", "channel", "type", "properties", "c", "m"])
ASYNC_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-1, 2),
              st.sampled_from(["send", "receive", "a", "#/channels/c", "#/channels/c/messages/m", "#/components",
                               "application/vnd.apache.avro;version=1.9.0", "string", "object"])),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(ASYNC_KEYS, children, max_size=4)),
    max_leaves=14)


def _or_noise(strategy):
    return st.one_of(strategy, strategy, strategy, ASYNC_VALUES)


PAYLOAD = _or_noise(st.one_of(SCHEMAS, st.just({"$ref": "#/components/schemas/S"}),
                              st.builds(lambda s: {"schemaFormat": "application/vnd.aai.asyncapi+json;version=3.0.0",
                                                   "schema": s}, SCHEMAS)))
MESSAGE = _or_noise(st.one_of(st.builds(lambda p: {"payload": p}, PAYLOAD), st.just({"$ref": "#/components/messages/M"}),
                              st.just({"schemaFormat": "application/vnd.apache.avro;version=1.9.0",
                                       "payload": {"type": "record", "name": "R", "fields": []}})))
V3 = st.fixed_dictionaries({
    "asyncapi": st.just("3.0.0"),
    "channels": st.dictionaries(st.sampled_from(["c", "d"]), _or_noise(st.fixed_dictionaries(
        {"address": st.sampled_from(["a", "b"])}, optional={"messages": st.dictionaries(st.sampled_from(["m", "n"]),
                                                                                       MESSAGE, max_size=2)})),
        max_size=2),
    "operations": st.dictionaries(st.sampled_from(["o", "p"]), _or_noise(st.fixed_dictionaries(
        {"action": st.sampled_from(["send", "receive"]),
         "channel": st.sampled_from([{"$ref": "#/channels/c"}, {"$ref": "#/channels/d"}])},
        optional={"messages": st.lists(st.sampled_from([{"$ref": "#/channels/c/messages/m"},
                                                        {"$ref": "#/channels/d/messages/n"}]), max_size=2)})),
        max_size=2),
    "components": st.fixed_dictionaries({"schemas": st.fixed_dictionaries({"S": SCHEMAS}),
                                         "messages": st.fixed_dictionaries({"M": MESSAGE})})})
V2 = st.fixed_dictionaries({
    "asyncapi": st.just("2.6.0"),
    "channels": st.dictionaries(st.sampled_from(["a", "b"]), _or_noise(st.fixed_dictionaries({}, optional={
        "publish": _or_noise(st.builds(lambda m: {"message": m}, st.one_of(
            MESSAGE, st.builds(lambda ms: {"oneOf": ms}, st.lists(MESSAGE, max_size=2))))),
        "subscribe": _or_noise(st.builds(lambda m: {"message": m}, MESSAGE))})), max_size=2),
    "components": st.fixed_dictionaries({"schemas": st.fixed_dictionaries({"S": SCHEMAS}),
                                         "messages": st.fixed_dictionaries({"M": MESSAGE})})})


@PROPERTY
@given(st.one_of(V2, V3))
def test_any_asyncapi_document_loads_or_is_one_clear_error(document):
    import json
    import tempfile
    from pathlib import Path

    from metarepo.contracts.loading import load_contract
    from metarepo.contracts.sources import WorkTree
    from metarepo.errors import MetaError

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "asyncapi.json").write_text(json.dumps(document))
        try:
            contract = load_contract(WorkTree(Path(tmp), "svc"), "svc")
        except MetaError as exc:
            assert exc.exit_code == 2 and "\n" not in str(exc), str(exc)
            event("refused")
            return
    event("loaded" if not contract.empty else "empty")
