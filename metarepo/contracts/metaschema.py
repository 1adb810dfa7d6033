"""A schema checked against its metaschema one node at a time, each distinct node once.

``jsonschema``'s ``check_schema`` validates a whole schema against the
(2020-12: dynamically referenced) metaschema, which costs milliseconds per
schema: too slow for a fleet of ten thousand. Here every node is validated
by the same library and metaschema, but shallowly: its sub-schemas are
replaced by ``true`` (they are checked as nodes of their own), so a node
such as ``{"type": "string"}`` that appears a thousand times in a fleet is
validated once. The error names the path of the node that is wrong.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from metarepo.errors import ManifestError

_SINGLE = frozenset({"additionalProperties", "additionalItems", "contains", "propertyNames", "not", "if", "then",
                     "else", "unevaluatedItems", "unevaluatedProperties", "contentSchema"})
_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"})
_DATA = frozenset({"enum", "const", "default", "examples"})

_VALID: set[tuple[str, str]] = set()
_CHECKERS: dict[str, Any] = {}


def _checker(root: Any) -> tuple[str, Any]:
    from jsonschema import Draft202012Validator, validators

    cls = validators.validator_for(root, default=Draft202012Validator) if isinstance(root, dict) \
        else Draft202012Validator
    name = cls.__name__
    if name not in _CHECKERS:
        meta = validators.validator_for(cls.META_SCHEMA, default=cls)
        _CHECKERS[name] = meta(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    return name, _CHECKERS[name]


def _nodes(node: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(path, node, its shallow form) for ``node`` and every sub-schema below it."""
    if not isinstance(node, dict):
        yield path, node, node
        return
    shallow: dict[str, Any] = {}
    below: list[tuple[str, Any]] = []
    for key, value in node.items():
        if key in _DATA:
            shallow[key] = value
        elif key in _SINGLE or (key == "items" and not isinstance(value, list)):
            shallow[key] = True if isinstance(value, (dict, bool)) else value
            if isinstance(value, dict):
                below.append((f"{path}/{key}", value))
        elif key in _LISTS or (key == "items" and isinstance(value, list)):
            if isinstance(value, list):
                shallow[key] = [True if isinstance(v, (dict, bool)) else v for v in value]
                below += [(f"{path}/{key}/{i}", v) for i, v in enumerate(value) if isinstance(v, dict)]
            else:
                shallow[key] = value
        elif key in _MAPS and isinstance(value, dict):
            # The metaschema does not look at the names, only at what they map to.
            shallow[key] = {k: v for k, v in value.items() if not isinstance(v, (dict, bool))}
            below += [(f"{path}/{key}/{k}", v) for k, v in value.items() if isinstance(v, dict)]
        elif key == "required" and isinstance(value, list) and all(isinstance(v, str) for v in value) \
                and len(set(value)) == len(value):
            shallow[key] = ["_"] if value else []  # unique strings: only being empty can be wrong (draft-04)
        elif key in ("title", "description", "$comment") and isinstance(value, str):
            shallow[key] = ""
        else:
            shallow[key] = value
    yield path, node, shallow
    for sub_path, sub in below:
        yield from _nodes(sub, sub_path)


def check_schema(document: Any, where: str) -> None:
    """Raise ``ManifestError`` naming the path if ``document`` is not a valid JSON Schema."""
    name, checker = _checker(document)
    for path, node, shallow in _nodes(document, ""):
        if isinstance(shallow, dict) and "$schema" in shallow and path:
            shallow = {k: v for k, v in shallow.items() if k != "$schema"}
        try:  # repr, not json.dumps: four times cheaper, and equal reprs of JSON data are equal schemas
            key = (name, repr(shallow))
        except (TypeError, ValueError, RecursionError):
            key = None
        if key is not None and key in _VALID:
            continue
        error = next(iter(checker.iter_errors(shallow)), None)
        if error is not None:
            from jsonschema.exceptions import best_match

            # Said about the node as written, not its shallow stand-in (sub-schemas replaced by true).
            real = {k: v for k, v in node.items() if k != "$schema" or not path} if isinstance(node, dict) else node
            error = best_match(checker.iter_errors(real)) or best_match(checker.iter_errors(shallow)) or error
            inner = "/".join(str(p) for p in error.absolute_path)
            full = "/".join(p for p in (path.strip("/"), inner) if p) or "(root)"
            raise ManifestError(f"not a valid JSON Schema at {full}: {_said(error)}", file=where)
        if key is not None:
            _VALID.add(key)


def _said(error: Any) -> str:
    """jsonschema's message with the offending value in JSON (``true``, not ``True``), and a hint."""
    text, shown = error.message, repr(error.instance)
    if text.startswith(shown):
        value = json.dumps(error.instance, default=repr)
        text = (value if len(value) <= 60 else value[:57] + "...") + text[len(shown):]
    if list(error.absolute_path)[-1:] == ["items"] and isinstance(error.instance, list):
        text += ' (the tuple form of items is draft-07; 2020-12 says prefixItems, or declare "$schema": ' \
                '"http://json-schema.org/draft-07/schema#")'
    return text
