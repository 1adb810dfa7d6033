"""Small facts about JSON Schema nodes that the rules and the example generator share."""

from __future__ import annotations

from typing import Any

from metarepo.contracts.bounds import search
from metarepo.contracts.refs import deref
from metarepo.contracts.validation import canonical, enum_keys

TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")
ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default", "$schema", "deprecated",
                         "readOnly", "writeOnly", "format", "$defs", "definitions", "$id", "contentMediaType",
                         "contentEncoding", "discriminator", "externalDocs", "example", "xml"})


def pointer(path: str, *parts: Any) -> str:
    return path + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema sees it: 1 == 1.0, but true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def same_schema(a: Any, b: Any) -> bool:
    """The same constraints (annotations such as ``description`` aside)."""
    if a is b:
        return True
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return a == b and json_equal(a, b)
    if isinstance(a, dict):
        a = {k: v for k, v in a.items() if k not in ANNOTATIONS}
    if isinstance(b, dict):
        b = {k: v for k, v in b.items() if k not in ANNOTATIONS}
    if a == {} or a is True:
        return b == {} or b is True
    return json_equal(a, b)


def types_of(node: Any) -> set[str] | None:
    """The JSON types a node allows, or None for any (``type``, else inferred from enum/const)."""
    if not isinstance(node, dict):
        return None
    declared = node.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    if "const" in node:
        return {json_type(node["const"])}
    if isinstance(node.get("enum"), list) and node["enum"]:
        return {json_type(v) for v in node["enum"]}
    return None


def accepts_type(reader_types: set[str], writer_type: str) -> bool:
    return writer_type in reader_types or (writer_type == "integer" and "number" in reader_types)


def types_overlap(a: set[str], b: set[str]) -> bool:
    """Can one value have a type in ``a`` and in ``b``? (integers are numbers)"""
    return any(t in b or (t == "integer" and "number" in b) or (t == "number" and "integer" in b) for t in a)


def trivial(node: Any) -> bool:
    """True for a schema that accepts everything (``true``, ``{}``, annotations only)."""
    if node is True:
        return True
    return isinstance(node, dict) and all(k in ANNOTATIONS or str(k).startswith("x-") for k in node)


def finite_values(node: Any) -> list | None:
    if not isinstance(node, dict):
        return None
    if "const" in node:
        return [node["const"]]
    if isinstance(node.get("enum"), list):
        return list(node["enum"])
    if types_of(node) == {"boolean"}:
        return [True, False]
    if types_of(node) == {"null"}:
        return [None]
    return None


_LOWER = {"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"}
_UPPER = {"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"}


def merge(a: Any, b: Any) -> Any:
    """Both schemas at once (an ``allOf`` flattened), as closely as one node can say it."""
    if a is False or b is False:
        return False
    if a is True or a == {}:
        return b
    if b is True or b == {}:
        return a
    if not isinstance(a, dict) or not isinstance(b, dict):
        return a
    out = dict(a)
    a, b = _close_over(a, b), _close_over(b, a)
    out.update({k: a[k] for k in ("properties", "patternProperties") if k in a})
    handled: set[str] = set()
    if isinstance(a.get("prefixItems"), list) or isinstance(b.get("prefixItems"), list):
        pa, pb = a.get("prefixItems") or [], b.get("prefixItems") or []
        ra, rb = a.get("items", True), b.get("items", True)
        if isinstance(pa, list) and isinstance(pb, list) and not isinstance(ra, list) and not isinstance(rb, list):
            out["prefixItems"] = [merge(pa[i] if i < len(pa) else ra, pb[i] if i < len(pb) else rb)
                                  for i in range(max(len(pa), len(pb)))]
            if "items" in a or "items" in b:  # an absent items leaves the rest to unevaluatedItems
                out["items"] = merge(ra, rb)
            handled = {"prefixItems", "items"}
    for key, value in b.items():
        if key in handled:
            continue
        if key not in out:
            out[key] = value
            continue
        mine = out[key]
        if mine == value and json_equal(mine, value):
            continue
        if key in ("properties", "patternProperties") and isinstance(mine, dict) and isinstance(value, dict):
            out[key] = {**mine, **{n: merge(mine[n], s) if n in mine else s for n, s in value.items()}}
        elif key == "required" and isinstance(mine, list) and isinstance(value, list):
            out[key] = list(dict.fromkeys([*mine, *value]))
        elif key == "type":
            left, right = types_of({"type": mine}) or set(), types_of({"type": value}) or set()
            both = (left & right) | ({"integer"} if ("integer" in left and "number" in right)
                                     or ("number" in left and "integer" in right) else set())
            out[key] = sorted(both)
        elif key in _LOWER and isinstance(mine, (int, float)) and isinstance(value, (int, float)):
            out[key] = max(mine, value)
        elif key in _UPPER and isinstance(mine, (int, float)) and isinstance(value, (int, float)):
            out[key] = min(mine, value)
        elif key == "enum" and isinstance(mine, list) and isinstance(value, list):
            theirs = enum_keys(value)  # a set: linear, however long the enums
            out[key] = [v for v in mine if canonical(v) in theirs]
        elif key == "allOf" and isinstance(mine, list) and isinstance(value, list):
            out[key] = [*mine, *value]
        elif key == "additionalProperties":
            out[key] = merge(mine, value)
        elif key in ("items", "additionalItems", "contains", "propertyNames") and not isinstance(mine, list) \
                and not isinstance(value, list):
            out[key] = merge(mine, value)
        elif key == "uniqueItems":
            out[key] = bool(mine) or bool(value)
        elif key == "const" and not json_equal(mine, value):
            return False
        elif key == "multipleOf" and _positive(mine) and _positive(value):
            out[key] = _lcm(mine, value)
        elif key == "not":
            out[key] = {"anyOf": [mine, value]}  # not A and not B = not (A or B)
        elif key == "pattern" and isinstance(mine, str) and isinstance(value, str):
            out[key] = f"^(?=[\\s\\S]*?(?:{mine}))(?=[\\s\\S]*?(?:{value}))"
        elif key in ("anyOf", "oneOf"):
            out["allOf"] = [*out.get("allOf", []), {key: value}]
    return out


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _lcm(a: float, b: float) -> float:
    from fractions import Fraction
    from math import lcm

    x, y = Fraction(str(a)), Fraction(str(b))
    common = Fraction(lcm(x.numerator * y.denominator, y.numerator * x.denominator), x.denominator * y.denominator)
    return int(common) if common.denominator == 1 else float(common)


def _close_over(a: dict, b: dict) -> dict:
    """``a`` with the names and patterns only ``b`` declares constrained as ``b``'s other properties are."""
    extra = b.get("additionalProperties", True)
    if extra is True or extra == {}:
        return a
    b_props = b.get("properties") if isinstance(b.get("properties"), dict) else {}
    b_patterns = b.get("patternProperties") if isinstance(b.get("patternProperties"), dict) else {}
    out = dict(a)
    if isinstance(a.get("properties"), dict):
        props = {}
        for name, schema in a["properties"].items():
            if name in b_props:
                props[name] = schema
                continue
            covering = [s for p, s in b_patterns.items() if _search(p, name)]
            props[name] = schema if covering else merge(schema, extra)
        out["properties"] = props
    if isinstance(a.get("patternProperties"), dict):
        out["patternProperties"] = {p: s if p in b_patterns else merge(s, extra)
                                    for p, s in a["patternProperties"].items()}
    return out


def _search(pattern: str, name: str) -> bool:
    try:
        return search(pattern, name)
    except (ValueError, TypeError):
        return False


def flatten_all_of(node: Any, root: Any, depth: int = 0) -> Any:
    """A node whose ``allOf`` branches are merged into it (for a writer)."""
    if not isinstance(node, dict) or "allOf" not in node or depth > 8:
        return node
    base: Any = {k: v for k, v in node.items() if k != "allOf"}
    branches = node["allOf"] if isinstance(node["allOf"], list) else []
    for branch in branches:
        base = merge(base, flatten_all_of(deref(branch, root), root, depth + 1))
    if isinstance(base, dict) and "allOf" in base:
        base = _distribute(base, root)
    return base


def _distribute(node: dict, root: Any) -> Any:
    """allOf leftovers that one node cannot say: unions are multiplied out into one anyOf
    (oneOf's exclusivity and a second ``not`` or ``pattern`` are dropped, which only widens a writer)."""
    node = dict(node)
    leftover = node.pop("allOf")
    unions = [node.pop(key) for key in ("anyOf", "oneOf") if isinstance(node.get(key), list)]
    for item in leftover:
        for key in ("anyOf", "oneOf"):
            if isinstance(item, dict) and isinstance(item.get(key), list):
                unions.append(item[key])
    if unions:
        product: list = [{}]
        for union in unions:
            product = [merge(p, deref(b, root)) for p in product for b in union][:32]
        node["anyOf"] = product
    return node
