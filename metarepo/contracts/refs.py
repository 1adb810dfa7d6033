"""``$ref`` resolution: one self-contained schema out of pointers and relative files.

Every ``$ref`` (``#/...``, ``#/components/schemas/...``, ``other.json``,
``other.yaml#/definitions/x``, an anchor ``#name`` declared by ``$anchor``
or draft-07's ``$id: "#name"``, and the absolute ``$id`` of a schema
embedded in the same document) is replaced by what it points to (an AsyncAPI 3 Multi Format Schema Object by
its ``schema``). A reference
back into a schema that is still being resolved (a recursive schema) becomes
``{"$ref": "#/$defs/__refN"}`` with the target stored once under ``$defs``,
so resolution never loops and the result is still a valid schema that
``jsonschema`` can validate messages against. Remote references (``http:``)
are refused: contracts are checked offline.

Keywords beside a ``$ref`` apply with it (as an ``allOf``) from 2019-09 on;
up to draft-07 a ``$ref`` replaces its whole object and its siblings are
ignored, as every draft-07 validator ignores them, so they are dropped.
"""

from __future__ import annotations

import posixpath
from typing import Any, Callable
from urllib.parse import unquote

from metarepo.errors import ManifestError

# Keywords whose values are data, not schemas: never look for $ref inside them.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples", "example", "x-examples"})
_DEFINITIONS = ("$defs", "definitions")
_NAME_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas", "dependencies"})
_ROOT_ONLY = frozenset({"$defs", "definitions", "$schema", "$id", "title", "description", "$comment"})


def unescape_pointer(part: str) -> str:
    """One JSON pointer segment (as found in a ``$ref``) to the name it stands for."""
    return unquote(part).replace("~1", "/").replace("~0", "~")


_unescape = unescape_pointer


class Bundler:
    """Resolve references starting in one document; ``load(relpath)`` reads other documents."""

    def __init__(self, file: str, document: Any, load: Callable[[str], Any], label: Callable[[str], str]) -> None:
        self.docs: dict[str, Any] = {file: document}
        self.load = load
        self.label = label
        self.defs: dict[str, Any] = {}
        self.names: dict[tuple[str, str], str] = {}
        self.done: dict[tuple[str, str], Any] = {}
        self.stack: list[tuple[str, str]] = []
        self.ids: dict[str, dict[str, str]] = {}  # file -> {"#anchor" or absolute $id -> JSON pointer}
        self.ref_siblings = True  # whether keywords beside a $ref count (not up to draft-07)
        self.shared = False  # whether a resolved $ref was inlined in more than one place

    def bundle(self, node: Any, file: str, pointer: str, draft: str | None = None) -> Any:
        """``node`` (found at ``pointer`` in ``file``) with every reference resolved.

        ``draft`` is the schema's draft when ``node`` does not declare one.
        """
        declared = node.get("$schema") if isinstance(node, dict) else None
        self.ref_siblings = not ignores_ref_siblings(declared if isinstance(declared, str) else draft)
        ident = (file, pointer)
        self.stack.append(ident)
        try:
            result = self._walk(node, file)
        except RecursionError:
            raise ManifestError("schema nested too deeply to compare", file=self.label(file)) from None
        self.stack.pop()
        if ident in self.names:
            self.defs[self.names[ident]] = result
            result = {"$ref": f"#/$defs/{self.names[ident]}"}
        if self.defs:
            result = dict(result) if isinstance(result, dict) else {"allOf": [result]}
            result["$defs"] = {**self.defs}
        return result

    def _walk(self, node: Any, file: str, names: bool = False) -> Any:
        if isinstance(node, list):
            return [self._walk(item, file) for item in node]
        if not isinstance(node, dict):
            return node
        if names:  # a map of names to schemas (properties, patternProperties, ...)
            return {key: self._walk(value, file) for key, value in node.items()}
        ref = node.get("$ref")
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("$ref", "$id", "$anchor") or key in _DEFINITIONS or (key == "id" and isinstance(value, str)):
                continue
            if key in _DATA_KEYWORDS:
                out[key] = value
            else:
                out[key] = self._walk(value, file, names=key in _NAME_MAPS and isinstance(value, dict))
        if not isinstance(ref, str):
            if ref is not None:
                out["$ref"] = ref  # not a reference; let the metaschema check complain
            return out
        target = self._inline(ref, file)
        annotations = {"title", "description", "$comment", "$schema", "deprecated", "readOnly", "writeOnly"}
        if not set(out) - annotations or not self.ref_siblings:
            return target
        return {**out, "allOf": [*out.get("allOf", []), target]}

    def _inline(self, ref: str, file: str) -> Any:
        ident = self._locate(ref, file)
        if ident in self.stack:
            name = self.names.setdefault(ident, f"__ref{len(self.names) + 1}")
            return {"$ref": f"#/$defs/{name}"}
        if ident in self.done:
            self.shared = True  # the same object now stands in two places: its expanded size may grow fast
            return self.done[ident]
        target, found = self._lookup(ident, ref, file)
        if isinstance(target, dict) and "schemaFormat" in target and "schema" in target:
            # AsyncAPI 3's Multi Format Schema Object (springwolf keeps every schema in one): its schema.
            if "avro" in str(target["schemaFormat"]).lower():
                raise ManifestError(f"$ref {ref!r} points to an Avro schema from inside a JSON Schema",
                                    file=self.label(file))
            target, found = target["schema"], (found[0], f"{found[1]}/schema")
        self.stack.append(ident)
        result = self._walk(target, found[0])
        self.stack.pop()
        if ident in self.names:
            self.defs[self.names[ident]] = result
            result = {"$ref": f"#/$defs/{self.names[ident]}"}
        self.done[ident] = result
        return result

    def _locate(self, ref: str, file: str) -> tuple[str, str]:
        where, _, fragment = ref.partition("#")
        if "://" in where or where.startswith("//") or ":" in where.split("/", 1)[0]:
            for known in self.docs:  # a schema embedded under its own absolute $id
                pointer = self._identifiers(known).get(where.rstrip("/"))
                if pointer is not None:
                    return known, self._fragment(known, pointer, fragment, ref, file)
            raise ManifestError(f"unresolvable $ref {ref!r}: remote references are not fetched (no schema "
                                "here has that $id)", file=self.label(file))
        target = file
        if where:
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(file), unquote(where)))
            if joined.startswith("../") or joined == ".." or joined.startswith("/"):
                raise ManifestError(f"unresolvable $ref {ref!r}: it points outside the repository",
                                    file=self.label(file))
            target = joined
        return target, self._fragment(target, "", fragment, ref, file)

    def _fragment(self, target: str, base: str, fragment: str, ref: str, file: str) -> str:
        """The JSON pointer (in ``target``) of ``fragment``: a pointer below ``base``, or an anchor's place."""
        if not fragment or fragment.startswith("/"):
            return base + fragment
        self._document(target, ref, file)
        pointer = self._identifiers(target).get(f"#{unquote(fragment)}")
        if pointer is None:
            raise ManifestError(f"unresolvable $ref {ref!r}: no $anchor {unquote(fragment)!r} in "
                                f"{self.label(target)}", file=self.label(file))
        return pointer

    def _document(self, target: str, ref: str, file: str) -> Any:
        if target not in self.docs:
            document = self.load(target)
            if document is None:
                raise ManifestError(f"unresolvable $ref {ref!r}: no file {target}", file=self.label(file))
            self.docs[target] = document
        return self.docs[target]

    def _identifiers(self, target: str) -> dict[str, str]:
        """Every ``$anchor`` (as ``#name``) and absolute ``$id`` in a loaded document, with its pointer."""
        if target not in self.ids:
            found: dict[str, str] = {}
            stack: list[tuple[Any, str, int]] = [(self.docs[target], "", 0)]
            while stack:
                node, pointer, depth = stack.pop()
                if isinstance(node, list) and depth < 256:
                    stack.extend((item, f"{pointer}/{i}", depth + 1) for i, item in enumerate(node))
                if not isinstance(node, dict) or depth >= 256:
                    continue
                anchor, ident = node.get("$anchor"), node.get("$id")
                if isinstance(anchor, str):
                    found.setdefault(f"#{anchor}", pointer)
                if isinstance(ident, str) and ident.startswith("#") and len(ident) > 1:  # draft-07's anchor
                    found.setdefault(ident, pointer)
                elif isinstance(ident, str) and "://" in ident:
                    found.setdefault(ident.split("#", 1)[0].rstrip("/"), pointer)
                for key, value in node.items():
                    if key not in _DATA_KEYWORDS:
                        escaped = str(key).replace("~", "~0").replace("/", "~1")
                        stack.append((value, f"{pointer}/{escaped}", depth + 1))
            self.ids[target] = found
        return self.ids[target]

    def _lookup(self, ident: tuple[str, str], ref: str, file: str, hops: int = 0) -> tuple[Any, tuple[str, str]]:
        """What ``ident`` points to, and where that really is: a pointer that runs into a ``$ref`` on its way
        (AsyncAPI's ``#/channels/made/messages/m`` when channel ``made`` is kept in another file) goes through it."""
        target_file, pointer = ident
        node = self._document(target_file, ref, file)
        parts = pointer.split("/")[1:] if pointer else []
        for index, raw in enumerate(parts):
            part = _unescape(raw)
            if isinstance(node, dict) and part not in node and isinstance(node.get("$ref"), str) and hops < 32:
                through = self._locate(node["$ref"], target_file)
                rest = "/".join([through[1], *parts[index:]]) if through[1] else "/" + "/".join(parts[index:])
                return self._lookup((through[0], rest), ref, file, hops + 1)
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise ManifestError(f"unresolvable $ref {ref!r}: nothing at {pointer!r}", file=self.label(file))
        return node, (target_file, pointer)


def ignores_ref_siblings(draft: str | None) -> bool:
    """Whether ``draft`` (a ``$schema`` URI) is one where ``$ref`` overrides its siblings (up to draft-07)."""
    return bool(draft) and any(f"/draft-0{n}/" in draft for n in (3, 4, 6, 7))


def deref(node: Any, root: Any, limit: int = 64) -> Any:
    """Follow a bundled schema's ``#/$defs/...`` pointers (only those remain after bundling)."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
        ref = node["$ref"]
        target: Any = root
        for part in ref[1:].split("/")[1:]:
            part = _unescape(part)
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                return True  # a dangling pointer the metaschema check did not catch: unconstrained
        rest = {k: v for k, v in node.items() if k != "$ref"}
        meaningful = set(rest) - _ROOT_ONLY
        node = {**rest, "allOf": [*rest.get("allOf", []), target]} if meaningful else target
        seen += 1
        if seen > limit:
            return True
    return node
