"""``jsonschema`` validators whose input-driven costs are bounded: regexes in bounded time, enums by hash.

The stock validators run a schema's ``pattern``s with Python's ``re``
(exponential on some patterns) and check ``enum`` by comparing the value
with every member (quadratic over an enum's own values). Here ``pattern``,
``patternProperties`` and ``additionalProperties`` match with
``bounds.search``, ``unevaluatedProperties`` tries its patterns there first,
and ``enum`` looks the value up in a set built once per enum, with JSON
Schema's equality (``1 == 1.0``, ``true != 1``).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from metarepo.contracts.bounds import Undecidable, search

_CLASSES: dict[type, type] = {}
_ENUMS: dict[int, tuple[list, frozenset[str]]] = {}


def canonical(value: Any) -> str:
    """One text per JSON value, equal for values JSON Schema calls equal."""
    return json.dumps(_normal(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def enum_keys(values: list) -> frozenset[str]:
    """The canonical texts of an enum's values, computed once per list."""
    cached = _ENUMS.get(id(values))
    if cached is not None and cached[0] is values:
        return cached[1]
    keys = frozenset(canonical(v) for v in values)
    _ENUMS[id(values)] = (values, keys)
    return keys


def _enum(validator: Any, enums: Any, instance: Any, schema: Any) -> Any:
    from jsonschema.exceptions import ValidationError

    if isinstance(enums, list):
        if canonical(instance) not in enum_keys(enums):
            yield ValidationError(f"{_short(instance)} is not one of the enum's {len(enums)} values")
    elif instance != enums:  # a malformed enum: jsonschema's own reading
        yield ValidationError(f"{_short(instance)} is not {enums!r}")


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Any:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not search(pattern, instance):
        yield ValidationError(f"{_short(instance)} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Any:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _extras(instance: dict, schema: dict) -> list:
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [key for key in instance if key not in properties and not any(search(p, key) for p in patterns)]


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: Any) -> Any:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    extras = _extras(instance, schema)
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif not extra and extras:
        yield ValidationError(f"additional properties are not allowed ({', '.join(map(repr, sorted(extras)))})")


def _guarded(stock: Callable) -> Callable:
    """``unevaluatedProperties`` as jsonschema has it, after its patterns were tried on the bounded engine."""

    def unevaluated(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "object"):
            for pattern in _patterns_in(validator.schema):
                for key in instance:
                    search(pattern, key)
        yield from stock(validator, value, instance, schema)

    return unevaluated


def _patterns_in(node: Any, depth: int = 0) -> list[str]:
    found: list[str] = []
    if depth > 32:
        return found
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "patternProperties" and isinstance(value, dict):
                found += [p for p in value if isinstance(p, str)]
            if key not in ("enum", "const", "default", "examples"):
                found += _patterns_in(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            found += _patterns_in(item, depth + 1)
    return found


def bounded(cls: type) -> type:
    """``cls`` (a jsonschema validator class) with the bounded keywords."""
    if cls not in _CLASSES:
        from jsonschema import validators

        known = cls.VALIDATORS
        mine: dict[str, Callable] = {"enum": _enum, "pattern": _pattern, "patternProperties": _pattern_properties,
                                     "additionalProperties": _additional_properties}
        overrides = {k: v for k, v in mine.items() if k in known}
        if "unevaluatedProperties" in known:
            overrides["unevaluatedProperties"] = _guarded(known["unevaluatedProperties"])
        _CLASSES[cls] = validators.extend(cls, overrides)
    return _CLASSES[cls]


def checker(schema: Any) -> Callable[[Any], bool]:
    """``value -> bool`` for ``schema`` in its own draft (2020-12 when it names none).

    ``Undecidable`` passes through; any other failure (a pattern the engine
    cannot compile, a dangling reference) answers "no".
    """
    from jsonschema import Draft202012Validator, validators

    cls = validators.validator_for(schema, default=Draft202012Validator) if isinstance(schema, dict) \
        else Draft202012Validator
    try:
        instance = bounded(cls)(schema)
    except Exception:  # noqa: BLE001 - a schema jsonschema cannot even hold: nothing matches it
        return lambda value: False

    def is_valid(value: Any) -> bool:
        try:
            return instance.is_valid(value)
        except Undecidable:
            raise
        except Exception:  # noqa: BLE001 - an odd pattern or ref: say "no"
            return False

    return is_valid


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
