"""Each compatibility rule: writer schema, reader schema, the verdict, the kind, and a checked example."""

from __future__ import annotations

import pytest

from .schemas import kinds, verdict

OBJ = {"type": "object"}


def obj(props: dict, required: list | None = None, **more) -> dict:
    out = {"type": "object", "properties": props, **more}
    if required is not None:
        out["required"] = required
    return out


S, I, N = {"type": "string"}, {"type": "integer"}, {"type": "number"}

# (id, writer, reader, compatible, a kind expected among the breaking (or all, if compatible) changes)
CASES = [
    ("identical", obj({"a": S}), obj({"a": S}), True, None),
    ("integer inside number", I, N, True, "type_extended"),
    ("number is not integer", N, I, False, "type_changed"),
    ("type changed", S, I, False, "type_changed"),
    ("type array narrowed", {"type": ["string", "null"]}, S, False, "type_narrowed"),
    ("type array extended", S, {"type": ["string", "null"]}, True, "type_extended"),
    ("type added to untyped writer", {}, S, False, "type_narrowed"),
    ("enum narrowed", {"enum": ["a", "b", "c"]}, {"enum": ["a", "b"]}, False, "enum_array_narrowed"),
    ("enum extended", {"enum": ["a"]}, {"enum": ["a", "b"]}, True, "enum_array_extended"),
    ("enum added", S, {"type": "string", "enum": ["a"]}, False, "enum_array_added"),
    ("const changed", {"const": "a"}, {"const": "b"}, False, "const_changed"),
    ("const added", S, {"const": "a"}, False, "const_added"),
    ("const inside enum", {"const": "a"}, {"enum": ["a", "b"]}, True, None),
    ("maxLength decreased", {"type": "string", "maxLength": 10}, {"type": "string", "maxLength": 5}, False,
     "max_length_decreased"),
    ("maxLength added", S, {"type": "string", "maxLength": 5}, False, "max_length_added"),
    ("maxLength increased", {"type": "string", "maxLength": 5}, {"type": "string", "maxLength": 9}, True,
     "max_length_increased"),
    ("minLength increased", {"type": "string", "minLength": 1}, {"type": "string", "minLength": 3}, False,
     "min_length_increased"),
    ("minLength removed", {"type": "string", "minLength": 1}, S, True, "min_length_removed"),
    ("pattern added", S, {"type": "string", "pattern": "^a+$"}, False, "pattern_added"),
    ("pattern changed", {"type": "string", "pattern": "^a"}, {"type": "string", "pattern": "^b"}, False,
     "pattern_changed"),
    ("pattern removed", {"type": "string", "pattern": "^a"}, S, True, "pattern_removed"),
    ("maximum decreased", {"type": "integer", "maximum": 10}, {"type": "integer", "maximum": 5}, False,
     "maximum_decreased"),
    ("maximum added", I, {"type": "integer", "maximum": 5}, False, "maximum_added"),
    ("exclusiveMaximum tighter", {"type": "number", "maximum": 10}, {"type": "number", "exclusiveMaximum": 10},
     False, "exclusive_maximum_decreased"),
    ("exclusive inside inclusive", {"type": "number", "exclusiveMaximum": 10}, {"type": "number", "maximum": 10},
     True, None),
    ("minimum increased", {"type": "integer", "minimum": 0}, {"type": "integer", "minimum": 1}, False,
     "minimum_increased"),
    ("minimum decreased", {"type": "integer", "minimum": 1}, {"type": "integer", "minimum": 0}, True,
     "minimum_decreased"),
    ("multipleOf reduced (still divides)", {"type": "number", "multipleOf": 4}, {"type": "number", "multipleOf": 2},
     True, "multiple_of_reduced"),
    ("multipleOf changed", {"type": "number", "multipleOf": 2}, {"type": "number", "multipleOf": 4}, False,
     "multiple_of_changed"),
    ("multipleOf added", N, {"type": "number", "multipleOf": 2}, False, "multiple_of_added"),
    ("integer fits multipleOf 0.5", I, {"type": "number", "multipleOf": 0.5}, True, None),
    ("maxItems decreased", {"type": "array", "maxItems": 5}, {"type": "array", "maxItems": 2}, False,
     "max_items_decreased"),
    ("minItems added", {"type": "array"}, {"type": "array", "minItems": 2}, False, "min_items_added"),
    ("uniqueItems added", {"type": "array", "items": I}, {"type": "array", "items": I, "uniqueItems": True}, False,
     "unique_items_added"),
    ("uniqueItems removed", {"type": "array", "uniqueItems": True}, {"type": "array"}, True, "unique_items_removed"),
    ("items schema narrowed", {"type": "array", "items": N}, {"type": "array", "items": I}, False, "type_changed"),
    ("items schema extended", {"type": "array", "items": I}, {"type": "array", "items": N}, True, None),
    ("2020-12 prefixItems added to open tuple", {"type": "array", "prefixItems": [I]},
     {"type": "array", "prefixItems": [I, S]}, False, "item_added_to_open_content_model"),
    ("2020-12 prefixItems added to closed tuple", {"type": "array", "prefixItems": [I], "items": False},
     {"type": "array", "prefixItems": [I, S]}, True, "item_added_to_closed_content_model"),
    ("2020-12 tuple item covered by partial model", {"type": "array", "prefixItems": [I], "items": S},
     {"type": "array", "prefixItems": [I, S]}, True, "item_added_is_covered_by_partially_open_content_model"),
    ("2020-12 tuple item not covered by partial model", {"type": "array", "prefixItems": [I], "items": N},
     {"type": "array", "prefixItems": [I, I]}, False, "item_added_not_covered_by_partially_open_content_model"),
    ("2020-12 tuple item removed from closed tuple", {"type": "array", "prefixItems": [I, S]},
     {"type": "array", "prefixItems": [I], "items": False}, False, "additional_items_removed"),
    ("2020-12 tuple item removed into open rest", {"type": "array", "prefixItems": [I, S]},
     {"type": "array", "prefixItems": [I]}, True, None),
    ("2020-12 prefixItems changed", {"type": "array", "prefixItems": [S]}, {"type": "array", "prefixItems": [I]},
     False, "type_changed"),
    ("object required added", obj({"a": S}), obj({"a": S}, ["a"]), False, "required_property_added"),
    ("object required removed", obj({"a": S}, ["a"]), obj({"a": S}), True, "required_property_removed"),
    ("property added to open content model", obj({"a": S}), obj({"a": S, "b": I}), False,
     "property_added_to_open_content_model"),
    ("property added to closed content model", obj({"a": S}, additionalProperties=False), obj({"a": S, "b": I}),
     True, "property_added_to_closed_content_model"),
    ("property added, covered by partially open model", obj({"a": S}, additionalProperties=I),
     obj({"a": S, "b": N}), True, "property_added_is_covered_by_partially_open_content_model"),
    ("property added, not covered by partially open model", obj({"a": S}, additionalProperties=N),
     obj({"a": S, "b": I}), False, "property_added_not_covered_by_partially_open_content_model"),
    ("property added, covered by patternProperties", obj({}, patternProperties={"^n_": I}),
     obj({"n_x": N}), True, "property_added_is_covered_by_partially_open_content_model"),
    ("property removed from closed content model", obj({"a": S, "b": I}), obj({"a": S}, additionalProperties=False),
     False, "property_removed_from_closed_content_model"),
    ("property removed from open content model", obj({"a": S, "b": I}), obj({"a": S}), True,
     "property_removed_from_open_content_model"),
    ("property removed, covered by partial model", obj({"b": I}, additionalProperties=False),
     obj({}, additionalProperties=N), True,
     "property_removed_is_covered_by_partially_open_content_model"),
    ("property removed, not covered by partial model", obj({"b": S}), obj({}, additionalProperties=I), False,
     "property_removed_not_covered_by_partially_open_content_model"),
    ("property removed, not covered by patternProperties", obj({"n_b": S}),
     obj({}, patternProperties={"^n_": I}), False, "property_removed_not_covered_by_partially_open_content_model"),
    ("additionalProperties closed", obj({"a": S}), obj({"a": S}, additionalProperties=False), False,
     "additional_properties_narrowed"),
    ("additionalProperties opened", obj({"a": S}, additionalProperties=False), obj({"a": S}), True, None),
    ("additionalProperties schema narrowed", obj({}, additionalProperties=N), obj({}, additionalProperties=I),
     False, "type_changed"),
    ("patternProperties added over open writer", obj({}), obj({}, patternProperties={"^x": I}), False,
     "property_added_to_open_content_model"),
    ("oneOf branch dropped", {"oneOf": [S, I]}, S, False, "type_changed"),
    ("anyOf branch added", S, {"anyOf": [S, I]}, True, None),
    ("anyOf writer fits no reader branch", {"type": "boolean"}, {"anyOf": [S, I]}, False,
     "combined_type_subschemas_changed"),
    ("oneOf reader: a message matching two branches is rejected", I, {"oneOf": [I, N]}, False, "one_of_overlap"),
    ("oneOf reader: disjoint branches by type", S, {"oneOf": [S, {"type": "null"}]}, True, None),
    ("oneOf reader: discriminated branches", obj({"kind": {"const": "a"}, "n": I}, ["kind"]),
     {"oneOf": [obj({"kind": {"const": "a"}}, ["kind"]), obj({"kind": {"const": "b"}}, ["kind"])]}, True, None),
    ("allOf reader adds a constraint", obj({"a": S}), {"allOf": [obj({"a": S}), {"required": ["a"]}]}, False,
     "required_property_added"),
    ("allOf writer merged", {"allOf": [obj({"a": S}), {"required": ["a"]}]}, obj({"a": S}, ["a"]), True, None),
    ("not added", S, {"type": "string", "not": {"const": "x"}}, False, "not_type_added"),
    ("not disjoint from writer type", S, {"not": I}, True, None),
    ("not narrowed", {"not": {"enum": ["x"]}}, {"not": {"enum": ["x", "y"]}}, False, "not_type_narrowed"),
    ("not relaxed", {"not": {"enum": ["x", "y"]}}, {"not": {"enum": ["x"]}}, True, None),
    ("$ref resolved", {"$defs": {"s": S}, "$ref": "#/$defs/s"}, I, False, "type_changed"),
    ("reader false", S, False, False, "schema_closed"),
    ("writer false", False, S, True, None),
    ("boolean type to enum", {"type": "boolean"}, {"enum": [True]}, False, "enum_array_narrowed"),
    # Keywords beyond Confluent's list: a reader that uses one is never called compatible by ignoring it.
    ("dependentRequired added", obj({"a": S, "b": S}), obj({"a": S, "b": S}, dependentRequired={"a": ["b"]}),
     False, "dependency_array_added"),
    ("dependentRequired met by required", obj({"a": S, "b": S}, ["b"]),
     obj({"a": S, "b": S}, dependentRequired={"a": ["b"]}), True, None),
    ("dependentRequired dropped", obj({"a": S}, dependentRequired={"a": ["b"]}), obj({"a": S}), True,
     "dependency_array_removed"),
    ("dependentSchemas added", obj({"a": S, "b": S}),
     obj({"a": S, "b": S}, dependentSchemas={"a": {"required": ["b"]}}), False, "dependency_schema_added"),
    ("dependentSchemas met", obj({"a": S, "b": S}, ["b"]),
     obj({"a": S, "b": S}, dependentSchemas={"a": {"required": ["b"]}}), True, None),
    ("propertyNames added over an open writer", obj({"a": S}), obj({"a": S}, propertyNames={"maxLength": 3}),
     False, "property_names_added"),
    ("propertyNames met by a closed writer", obj({"ab": S}, additionalProperties=False),
     obj({"ab": S}, propertyNames={"maxLength": 3}), True, None),
    ("propertyNames rejects a declared name", obj({"abcd": S}, additionalProperties=False),
     obj({}, propertyNames={"maxLength": 3}), False, "property_names_narrowed"),
    ("propertyNames narrowed", obj({}, propertyNames={"maxLength": 5}), obj({}, propertyNames={"maxLength": 3}),
     False, "property_names_narrowed"),
    ("if/then added", obj({"a": S, "b": S}), {**obj({"a": S, "b": S}), "if": {"required": ["a"]},
                                              "then": {"required": ["b"]}}, False, "if_then_else_added"),
    ("if never met by the writer", obj({"kind": {"const": "y"}}, ["kind"]),
     {"type": "object", "if": obj({"kind": {"const": "x"}}, ["kind"]), "then": {"required": ["b"]}}, True, None),
    ("if always met, then met", obj({"kind": {"const": "x"}, "b": S}, ["kind", "b"]),
     {"type": "object", "if": obj({"kind": {"const": "x"}}, ["kind"]), "then": {"required": ["b"]}}, True, None),
    ("contains added", {"type": "array", "items": S}, {"type": "array", "contains": S}, False, "contains_added"),
    ("contains met by every item", {"type": "array", "items": S, "minItems": 1}, {"type": "array", "contains": S},
     True, None),
    ("contains changed", {"type": "array", "contains": S}, {"type": "array", "contains": I}, False,
     "contains_changed"),
    ("contains narrower in the writer", {"type": "array", "contains": {"const": "a"}},
     {"type": "array", "contains": S}, True, None),
    ("minContains raised", {"type": "array", "contains": S}, {"type": "array", "contains": S, "minContains": 2},
     False, "contains_changed"),
    ("maxContains added", {"type": "array", "contains": S}, {"type": "array", "contains": S, "maxContains": 1},
     False, "max_contains_added"),
    ("unevaluatedProperties false over an open writer", obj({"a": S}), obj({"a": S}, unevaluatedProperties=False),
     False, "additional_properties_narrowed"),
    ("unevaluatedProperties sees allOf's names", obj({"a": S}, additionalProperties=False),
     {"type": "object", "allOf": [obj({"a": S})], "unevaluatedProperties": False}, True, None),
    ("unevaluatedProperties rejects a name allOf lacks", obj({"a": S, "c": S}, additionalProperties=False),
     {"type": "object", "allOf": [obj({"a": S})], "unevaluatedProperties": False}, False,
     "property_removed_from_closed_content_model"),
    ("writer closed by unevaluatedProperties", obj({"a": S}, unevaluatedProperties=False),
     obj({"a": S}, additionalProperties=False), True, None),
    ("writer anyOf with unevaluatedProperties may send both names",
     {"type": "object", "anyOf": [obj({"a": S}), obj({"b": S})], "unevaluatedProperties": False},
     obj({"a": S}, additionalProperties=False), False, "property_removed_from_closed_content_model"),
    ("unevaluatedItems false after prefixItems", {"type": "array", "prefixItems": [I]},
     {"type": "array", "prefixItems": [I], "unevaluatedItems": False}, False, "additional_items_removed"),
]


@pytest.mark.parametrize("writer,reader,compatible,kind", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(writer, reader, compatible, kind):
    result = verdict(writer, reader)
    assert result.compatible is compatible, [c.as_json() for c in result.changes]
    if kind is not None:
        assert kind in kinds(result, breaking=None if compatible else True), [c.as_json() for c in result.changes]
    if not compatible:
        assert result.has_example, "a breaking verdict with no example"


def test_required_name_the_reader_does_not_declare_still_breaks():
    """Confluent treats this as compatible; a message without the name is rejected, so it breaks."""
    result = verdict(obj({"a": S}), {"type": "object", "required": ["b"]})
    assert not result.compatible
    change = next(c for c in result.changes if c.kind == "required_property_added")
    assert "does not even declare it" in change.message
    assert "b" not in result.example


def test_additional_items_without_tuple_items_changes_nothing():
    """draft-07: additionalItems only applies after a tuple-form items; otherwise it is inert."""
    draft7 = "http://json-schema.org/draft-07/schema#"
    writer = {"type": "array", "items": {"type": "integer"}}
    reader = {"type": "array", "items": {"type": "integer"}, "additionalItems": False}
    result = verdict(writer, reader, draft=draft7)
    assert result.compatible and not result.changes


@pytest.mark.parametrize(("draft", "compatible"), [
    ("https://json-schema.org/draft/2020-12/schema", False),  # maxLength beside the $ref applies with it
    ("http://json-schema.org/draft-07/schema#", True),  # up to draft-07 a $ref replaces its object: ignored
    ("http://json-schema.org/draft-04/schema#", True),
])
def test_keywords_beside_a_ref_count_only_from_2019_09_on(draft: str, compatible: bool):
    ident = {"type": "string"}
    writer = {"type": "object", "properties": {"id": {"$ref": "#/definitions/id"}}, "definitions": {"id": ident}}
    reader = {"type": "object", "properties": {"id": {"$ref": "#/definitions/id", "maxLength": 5}},
              "definitions": {"id": ident}}
    result = verdict(writer, reader, draft=draft)
    assert result.compatible is compatible
    if not compatible:
        assert "max_length_added" in kinds(result) and len(result.example["id"]) > 5


def test_draft7_tuple_items_use_additional_items():
    draft7 = "http://json-schema.org/draft-07/schema#"
    writer = {"type": "array", "items": [{"type": "integer"}, {"type": "string"}]}
    reader = {"type": "array", "items": [{"type": "integer"}], "additionalItems": False}
    result = verdict(writer, reader, draft=draft7)
    assert not result.compatible
    assert result.example == [0, "a"] or len(result.example) >= 2


def test_lenient_relaxes_open_content_model_only():
    writer, reader = obj({"a": S}), obj({"a": S, "b": I})
    assert not verdict(writer, reader, "strict").compatible
    assert verdict(writer, reader, "lenient").compatible
    # ... but not a real narrowing
    assert not verdict(obj({"a": S}), obj({"a": I}), "lenient").compatible
    assert verdict(obj({"a": S}), obj({"a": S}, additionalProperties=I), "lenient").compatible


def test_recursive_schemas_do_not_loop():
    tree = {"type": "object", "properties": {"name": S, "children": {"type": "array", "items": {"$ref": "#"}}}}
    stricter = {**tree, "required": ["name"]}
    assert verdict(tree, tree).compatible
    result = verdict(tree, stricter)
    assert not result.compatible and "name" not in result.example


def test_breaking_deep_inside_a_recursive_schema_is_found():
    writer = {"$defs": {"node": {"type": "object", "properties": {"v": I, "next": {"$ref": "#/$defs/node"}}}},
              "$ref": "#/$defs/node"}
    reader = {"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer", "maximum": 3},
                                                                     "next": {"$ref": "#/$defs/node"}}}},
              "$ref": "#/$defs/node"}
    result = verdict(writer, reader)
    assert not result.compatible and "maximum_added" in kinds(result)


def test_example_shows_the_missing_enum_value():
    result = verdict(obj({"c": {"enum": ["EUR", "USD"]}}, ["c"]), obj({"c": {"enum": ["EUR"]}}, ["c"]))
    assert result.example == {"c": "USD"}


def test_example_respects_the_writers_pattern():
    writer = obj({"id": {"type": "string", "pattern": "^ord-[0-9]{3}$"}}, ["id"])
    result = verdict(writer, obj({"id": {"type": "string", "maxLength": 3}}, ["id"]))
    assert result.example == {"id": "ord-000"}


def test_no_example_is_made_up_when_none_can_be_built():
    # The writer's pattern is beyond the generator; the verdict stands, with no example.
    writer = {"type": "string", "pattern": "^(?=.*[A-Z])(?=.*[0-9]).{12}$"}
    result = verdict(writer, {"type": "string", "maxLength": 11})
    assert not result.compatible
    assert not result.as_json()["has_example"] or isinstance(result.example, str)


def test_identical_pairs_are_compared_once():
    from metarepo.contracts import compare

    writer, reader = obj({"a": S}), obj({"a": S}, ["a"])
    first = verdict(writer, reader)
    assert verdict(writer, reader) is first
    assert len([k for k in compare._CACHE if k[2] == "strict"]) >= 1


DRAFT7 = "http://json-schema.org/draft-07/schema#"


@pytest.mark.parametrize("writer,reader,compatible,kind", [
    # draft-07 has dependencies (both forms), not dependentRequired/dependentSchemas
    (obj({"a": S, "b": S}), obj({"a": S, "b": S}, dependencies={"a": ["b"]}), False, "dependency_array_added"),
    (obj({"a": S, "b": S}), obj({"a": S, "b": S}, dependencies={"a": {"required": ["b"]}}), False,
     "dependency_schema_added"),
    (obj({"a": S, "b": S}), obj({"a": S, "b": S}, dependentRequired={"a": ["b"]}), True, None),
    # prefixItems and unevaluatedProperties mean nothing to a draft-07 validator
    ({"type": "array", "prefixItems": [I]}, {"type": "array", "prefixItems": [S]}, True, None),
    (obj({"a": S}), obj({"a": S}, unevaluatedProperties=False), True, None),
], ids=["dependencies array", "dependencies schema", "dependentRequired is not draft-07",
        "prefixItems is not draft-07", "unevaluatedProperties is not draft-07"])
def test_draft7_keywords(writer, reader, compatible, kind):
    result = verdict(writer, reader, draft=DRAFT7)
    assert result.compatible is compatible, [c.as_json() for c in result.changes]
    if kind is not None:
        assert kind in kinds(result), [c.as_json() for c in result.changes]
    if not compatible:
        assert result.has_example


def test_each_draft_reads_its_own_keywords_when_the_sides_differ():
    """A draft-07 producer (AsyncAPI 2) and a 2020-12 consumer (contracts.yaml) of the same tuple."""
    from metarepo.contracts.compare import compare_schemas

    from .schemas import schema

    writer = schema({"type": "array", "items": [I, S], "additionalItems": False}, DRAFT7)
    reader = schema({"type": "array", "prefixItems": [I, {"type": "string", "maxLength": 2}]})
    result = compare_schemas(writer, reader)
    assert not result.compatible and "max_length_added" in kinds(result)
    assert compare_schemas(schema({"type": "array", "items": [I, {"type": "string", "maxLength": 2}],
                                   "additionalItems": False}, DRAFT7), reader).compatible


def test_a_conservative_verdict_with_no_possible_example_shows_none():
    """'^a' and '^a.*' accept the same strings: the pattern change is reported (as Confluent does), but no
    message can prove it, so none is shown; a made-up one would be a string both schemas accept."""
    result = verdict({"type": "string", "pattern": "^a"}, {"type": "string", "pattern": "^a.*"})
    assert not result.compatible and kinds(result) == {"pattern_changed"}
    assert not result.has_example and not result.as_json()["has_example"] and "example" not in result.as_json()


def test_json_tells_no_example_from_the_example_null():
    nullable = verdict({"type": ["string", "null"]}, {"type": "string"})
    assert nullable.has_example and nullable.example is None
    shown = nullable.as_json()
    assert shown["has_example"] is True and "example" in shown and shown["example"] is None
    none = verdict({"type": "string", "pattern": "^a$"}, {"type": "string", "pattern": "^b$"})
    if not none.has_example:
        assert none.as_json()["has_example"] is False and "example" not in none.as_json()


@pytest.mark.parametrize("writer,reader", [
    ({"type": "object", "maxProperties": 5}, {"type": "object", "maxProperties": 2}),
    ({"type": "object", "minProperties": 1, "maxProperties": 9}, {"type": "object", "minProperties": 4}),
])
def test_max_and_min_properties_changes_come_with_an_example(writer, reader):
    result = verdict(writer, reader)  # which checks that the writer accepts it and the reader rejects it
    assert not result.compatible and result.has_example and isinstance(result.example, dict)


def test_the_comparers_mixins_declare_what_they_use_of_it():
    from metarepo.contracts.comparing import Comparing
    from metarepo.contracts.content_models import ContentModels
    from metarepo.contracts.extra_keywords import ExtraKeywords
    from metarepo.contracts.rules import Comparer

    assert issubclass(ContentModels, Comparing) and issubclass(ExtraKeywords, Comparing)
    assert {"add", "compare", "trial", "value_ok", "disjoint", "_limit", "_contains"} <= Comparing.__abstractmethods__
    assert not Comparer.__abstractmethods__
    with pytest.raises(TypeError):
        ContentModels()  # a mixin alone is not a comparer
