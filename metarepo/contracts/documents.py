"""YAML and JSON text to data, with the file, line and column on every error.

YAML is read with the libyaml loader when it is there (the fleet-wide check
reads thousands of files) and a duplicate key is an error, not a silent
overwrite: a service declaring one message twice must be told.
"""

from __future__ import annotations

import json
from typing import Any

from metarepo.errors import ManifestError

_LOADER = None


def _loader() -> type:
    global _LOADER
    if _LOADER is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class StrictLoader(base):  # type: ignore[misc, valid-type]
            pass

        def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict:
            loader.flatten_mapping(node)
            seen: dict = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=deep)
                try:
                    hash(key)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, "a mapping key must be a plain value", key_node.start_mark) from None
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} appears twice", key_node.start_mark)
                seen[key] = loader.construct_object(value_node, deep=deep)
            return seen

        StrictLoader.add_constructor("tag:yaml.org,2002:map", construct_mapping)
        # Timestamps stay strings: a schema's "2024-01-01" const is text, not a date.
        StrictLoader.add_constructor("tag:yaml.org,2002:timestamp",
                                     lambda loader, node: loader.construct_scalar(node))
        _LOADER = StrictLoader
    return _LOADER


def parse_document(text: str, filename: str) -> Any:
    """Parse ``text`` as JSON (``.json``) or YAML (anything else); one clear error if it is not."""
    if filename.endswith(".json"):
        def no_duplicates(pairs: list) -> dict:
            seen: dict = {}
            for key, value in pairs:
                if key in seen:
                    raise ManifestError(f"key {key!r} appears twice", file=filename)
                seen[key] = value
            return seen

        try:
            return json.loads(text, object_pairs_hook=no_duplicates)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"invalid JSON: {exc.msg}", file=filename, line=exc.lineno,
                                column=exc.colno) from None
    import yaml

    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ManifestError(f"invalid YAML: {problem}", file=filename,
                            line=mark.line + 1 if mark else None,
                            column=mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {exc}", file=filename) from None
