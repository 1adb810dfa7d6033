"""A rendered YAML file read back before it is used: strictly, and with the line of what is wrong.

Every YAML file written from a template (a pipeline, a Kubernetes
manifest) is parsed with ``parse_yaml`` before its validator sees it:
YAML 1.2 booleans (``on:`` stays a key, as GitHub reads it), duplicate keys
refused. A ``Problem`` carries where it is (a document path, or a line);
``line_at`` finds the line of a path, for the error naming the template.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Iterable


class Problem(Exception):
    """One thing wrong with a rendered file; ``path`` is where in the document (for its line)."""

    def __init__(self, message: str, path: Iterable[Any] = (), line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = tuple(path)
        self.line = line


@functools.lru_cache(maxsize=None)
def yaml_loader() -> Any:
    """A safe loader (libyaml's when present) reading YAML 1.2 booleans and refusing duplicate keys."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[valid-type, misc]
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                 list("tTfF"))

    def no_duplicates(loader: Any, node: Any, deep: bool = False) -> Any:
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise Problem(f"key {key!r} appears twice", line=key_node.start_mark.line + 1)
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, no_duplicates)
    return Loader


def parse_yaml(text: str, what: str = "pipeline") -> dict[str, Any]:
    """The ``what`` document; ``Problem`` (with its line) when it is not valid YAML or not a mapping."""
    import yaml

    try:
        document = yaml.load(text, Loader=yaml_loader())  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.context_mark or exc.problem_mark  # where the broken construct began
        raise Problem(f"not valid YAML: {exc.problem or exc.context}",
                      line=mark.line + 1 if mark else None) from None
    if not isinstance(document, dict):
        raise Problem(f"the {what} must be a YAML mapping", line=1)
    return document


def line_at(text: str, path: tuple[Any, ...]) -> int | None:
    """The line of the key (or list item) at ``path`` in the YAML ``text`` (already known to parse)."""
    import yaml

    return line_of(yaml.compose(text, Loader=yaml_loader()), path)


def line_of(root: Any, path: tuple[Any, ...]) -> int | None:
    """The line of the key (or list item) at ``path`` in the YAML node tree."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for step in path:
        if node is None or not isinstance(getattr(node, "value", None), list):
            break
        nxt = None
        if node.tag.endswith(":map"):
            for key, value in node.value:
                if key.value == str(step):
                    nxt, line = value, key.start_mark.line + 1
                    break
        elif isinstance(step, int) and step < len(node.value):
            nxt = node.value[step]
            line = nxt.start_mark.line + 1
        node = nxt
    return line
