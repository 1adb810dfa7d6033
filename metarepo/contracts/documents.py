"""YAML and JSON text to data, with the file, line and column on every error.

YAML is read with the libyaml loader when it is there (the fleet-wide check
reads thousands of files) and a duplicate key is an error, not a silent
overwrite: a service declaring one message twice must be told. Aliases are
shared, not copied, while parsing; a document whose aliases expand past
``bounds.MAX_NODES`` values ("billion laughs") is refused before anything
walks it.
"""

from __future__ import annotations

import json
from typing import Any

from metarepo.errors import ManifestError

from metarepo.contracts.bounds import MAX_NODES, expanded_size

_LOADER = None


def _loader() -> type:
    global _LOADER
    if _LOADER is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        text, merge = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"
        scalar, error = yaml.ScalarNode, yaml.constructor.ConstructorError

        class StrictLoader(base):  # type: ignore[misc, valid-type]
            aliased = False  # set when a node is used a second time: an alias

            def construct_object(self, node: Any, deep: bool = False) -> Any:
                if node in self.constructed_objects:
                    self.aliased = True
                return super().construct_object(node, deep)

            def flatten_mapping(self, node: Any) -> None:
                # Remember how many pairs the mapping wrote itself: flattening puts the merged ones first.
                own = self.__dict__.setdefault("own_pairs", {})
                own.setdefault(id(node), sum(1 for key, _ in node.value if key.tag != merge))
                super().flatten_mapping(node)

        def read_pairs(loader: Any, pairs: list, deep: bool) -> dict | None:
            """The pairs as a dict, a repeated key refused; None when a merge key needs flattening first."""
            construct = loader.construct_object
            seen: dict = {}
            for key_node, value_node in pairs:
                # Plain strings (nearly every key, many values) are their own value: no constructor call.
                if key_node.tag == text and type(key_node) is scalar:
                    key = key_node.value
                elif key_node.tag in (merge, "tag:yaml.org,2002:value"):
                    return None
                else:
                    key = construct(key_node, deep=deep)
                try:
                    duplicate = key in seen
                except TypeError:
                    raise error(None, None, "a mapping key must be a plain value", key_node.start_mark) from None
                if duplicate:
                    raise error(None, None, f"key {key!r} appears twice", key_node.start_mark)
                seen[key] = value_node.value if value_node.tag == text and type(value_node) is scalar \
                    else construct(value_node, deep=deep)
            return seen

        def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict:
            own = loader.__dict__.get("own_pairs", {}).get(id(node))
            if own is None:
                seen = read_pairs(loader, node.value, deep)
                if seen is not None:
                    return seen
                loader.flatten_mapping(node)
                own = loader.own_pairs[id(node)]
            cut = len(node.value) - own
            result: dict = {}
            for key_node, value_node in node.value[:cut]:  # merged in (<<): the mapping's own keys override them
                try:
                    result[loader.construct_object(key_node, deep=deep)] = loader.construct_object(value_node, deep=deep)
                except TypeError:
                    raise error(None, None, "a mapping key must be a plain value", key_node.start_mark) from None
            result.update(read_pairs(loader, node.value[cut:], deep) or {})
            return result

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
        except RecursionError:
            raise ManifestError("nested too deeply to read", file=filename) from None
    import yaml

    loader = _loader()(text)
    try:
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ManifestError(f"invalid YAML: {problem}", file=filename,
                            line=mark.line + 1 if mark else None,
                            column=mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {exc}", file=filename) from None
    except RecursionError:
        raise ManifestError("nested too deeply to read", file=filename) from None
    if loader.aliased and expanded_size(data) > MAX_NODES:
        raise ManifestError(f"its YAML aliases expand to more than {MAX_NODES:,} values; refused",
                            file=filename)
    return data
