"""The keywords Confluent's JSON Schema diff leaves out, or half does: each one either proven safe or breaking.

A reader keyword that the comparer ignored would make it say "compatible" of
a reader that rejects what the writer sends. So every assertion keyword of
the reader's draft is looked at: ``dependentRequired``/``dependentSchemas``
(``dependencies`` before 2019-09), ``propertyNames``, ``if``/``then``/``else``,
``contains`` with ``minContains``/``maxContains``, and the ``unevaluated*``
pair. Where the writer cannot be shown to satisfy one, the change breaks
(and the example generator looks for the message that proves it). A
writer's keyword is only used where that is exact; otherwise the writer is
taken as wider than it is, which can only make a verdict stricter.
Mixed into ``rules.Comparer``; the draft of each side decides which
keywords exist (``prefixItems`` means nothing to a draft-07 validator).
"""

from __future__ import annotations

from typing import Any

from metarepo.contracts.bounds import search
from metarepo.contracts.comparing import Comparing
from metarepo.contracts.refs import deref
from metarepo.contracts.shapes import json_equal, merge, pointer, trivial

# Keywords that evaluate properties or items in place: with one of these next
# to it, unevaluated* is not a plain "the rest" keyword.
_IN_PLACE = ("allOf", "anyOf", "oneOf", "if", "dependentSchemas", "dependencies", "$dynamicRef", "$recursiveRef")


_KEYWORDS: dict[Any, frozenset[str]] = {}


def keywords_of(root: Any) -> frozenset[str]:
    """The assertion keywords of the draft ``root`` declares (2020-12 when it declares none)."""
    draft = root.get("$schema") if isinstance(root, dict) else None
    draft = draft if isinstance(draft, str) else None
    if draft not in _KEYWORDS:
        from jsonschema import Draft202012Validator, validators

        cls = validators.validator_for({"$schema": draft} if draft else {}, default=Draft202012Validator)
        known = set(cls.VALIDATORS)
        if "if" in known:
            known |= {"then", "else"}
        if "dependentRequired" in known:
            known |= {"minContains", "maxContains"}
        _KEYWORDS[draft] = frozenset(known)
    return _KEYWORDS[draft]


def _dependencies(node: dict, keys: frozenset[str]) -> tuple[dict[str, list], dict[str, Any], str, str]:
    """(name -> names it requires, name -> schema it requires, their keywords) in this draft."""
    arrays: dict[str, list] = {}
    schemas: dict[str, Any] = {}
    if "dependentRequired" in keys or "dependentSchemas" in keys:
        if isinstance(node.get("dependentRequired"), dict):
            arrays = {k: v for k, v in node["dependentRequired"].items() if isinstance(v, list)}
        if isinstance(node.get("dependentSchemas"), dict):
            schemas = dict(node["dependentSchemas"])
        return arrays, schemas, "dependentRequired", "dependentSchemas"
    if "dependencies" in keys and isinstance(node.get("dependencies"), dict):
        for name, value in node["dependencies"].items():
            (arrays if isinstance(value, list) else schemas)[name] = value
    return arrays, schemas, "dependencies", "dependencies"


class ExtraKeywords(Comparing):
    # -- unevaluated*: "the rest" when nothing else evaluates in place ------

    def reader_rest(self, r: dict) -> dict:
        """The reader with ``unevaluated*`` said as ``additionalProperties``/``items`` (never looser).

        Names and tuple positions its ``allOf`` branches evaluate count as
        evaluated; ones a union branch or ``if`` may evaluate do not, which
        only makes the reader stricter than it is."""
        if "unevaluatedProperties" in self.rkeys and "unevaluatedProperties" in r:
            r = dict(r)
            rest = r.pop("unevaluatedProperties")
            names, patterns, all_evaluated = self._evaluated_names(r)
            if not all_evaluated and "additionalProperties" not in r:
                props = r.get("properties") if isinstance(r.get("properties"), dict) else {}
                pats = r.get("patternProperties") if isinstance(r.get("patternProperties"), dict) else {}
                r["properties"] = {**{n: True for n in names}, **props}
                if patterns or pats:
                    r["patternProperties"] = {**{p: True for p in patterns}, **pats}
                r["additionalProperties"] = rest
        if "unevaluatedItems" in self.rkeys and "unevaluatedItems" in r:
            r = dict(r)
            rest = r.pop("unevaluatedItems")
            length, all_evaluated = self._evaluated_items(r, self.rkeys)
            if not all_evaluated:
                key = "prefixItems" if "prefixItems" in self.rkeys else "items"
                own = r.get(key) if isinstance(r.get(key), list) else []
                r[key] = [*own, *[True] * max(0, length - len(own))]
                r["items" if key == "prefixItems" else "additionalItems"] = rest
        return r

    def writer_rest(self, w: dict) -> dict:
        """The writer with ``unevaluated*`` as the rest keyword where that is exact; else without it (wider)."""
        exact = not any(k in w for k in _IN_PLACE)
        if "unevaluatedProperties" in w:
            w = dict(w)
            rest = w.pop("unevaluatedProperties")
            if exact and "unevaluatedProperties" in self.wkeys and "additionalProperties" not in w:
                w["additionalProperties"] = rest
        if "unevaluatedItems" in w:
            w = dict(w)
            rest = w.pop("unevaluatedItems")
            key = "items" if "prefixItems" in self.wkeys else "additionalItems"
            tuple_ok = "prefixItems" in self.wkeys or isinstance(w.get("items"), list)
            if exact and "unevaluatedItems" in self.wkeys and "contains" not in w and key not in w and (
                    tuple_ok or "items" not in w):
                w[key if tuple_ok else "items"] = rest
        return w

    def _evaluated_names(self, r: dict, depth: int = 0) -> tuple[set, set, bool]:
        names: set = set(r.get("properties") or {}) if isinstance(r.get("properties"), dict) else set()
        patterns: set = set(r.get("patternProperties") or {}) if isinstance(r.get("patternProperties"), dict) else set()
        everything = "additionalProperties" in r
        for branch in r.get("allOf") or [] if isinstance(r.get("allOf"), list) and depth < 8 else []:
            branch = deref(branch, self.rroot)
            if isinstance(branch, dict):
                more, pats, all_of = self._evaluated_names(branch, depth + 1)
                names, patterns, everything = names | more, patterns | pats, everything or all_of
                everything = everything or branch.get("unevaluatedProperties") is not None
        return names, patterns, everything

    def _evaluated_items(self, r: dict, keys: frozenset[str], depth: int = 0) -> tuple[int, bool]:
        if "prefixItems" in keys:
            length = len(r["prefixItems"]) if isinstance(r.get("prefixItems"), list) else 0
            everything = "items" in r
        else:
            length = len(r["items"]) if isinstance(r.get("items"), list) else 0
            everything = ("items" in r and not isinstance(r["items"], list)) or "additionalItems" in r
        for branch in r.get("allOf") or [] if isinstance(r.get("allOf"), list) and depth < 8 else []:
            branch = deref(branch, self.rroot)
            if isinstance(branch, dict):
                more, all_of = self._evaluated_items(branch, keys, depth + 1)
                length, everything = max(length, more), everything or all_of or "unevaluatedItems" in branch
        return length, everything

    # -- objects: dependencies and propertyNames ------------------------------

    def _can_send(self, w: dict, name: str) -> bool:
        props = w.get("properties") if isinstance(w.get("properties"), dict) else {}
        if name in props:
            return deref(props[name], self.wroot) is not False
        for pattern, schema in (w.get("patternProperties") or {}).items():
            try:
                if search(pattern, name):
                    return deref(schema, self.wroot) is not False
            except (ValueError, TypeError):
                return True
        return deref(w.get("additionalProperties", True), self.wroot) is not False

    def _object_keywords(self, w: dict, r: dict, path: str, where: tuple) -> None:
        wreq = set(w.get("required") or []) if isinstance(w.get("required"), list) else set()
        w_arrays, w_schemas, _, _ = _dependencies(w, self.wkeys)
        r_arrays, r_schemas, akey, skey = _dependencies(r, self.rkeys)
        for name, needed in r_arrays.items():
            if not isinstance(name, str) or not self._can_send(w, name):
                continue
            have = wreq | set(w_arrays.get(name, []))
            missing = [n for n in needed if n not in have]
            if missing:
                kind = "dependency_array_extended" if name in w_arrays else "dependency_array_added"
                self.add(pointer(path, akey, name), kind, True,
                         f"with {name!r} present the reader requires {', '.join(map(repr, missing))}, "
                         "which the writer may leave out", where + (("prop", name),), w, r)
        for name in w_arrays:
            if name not in r_arrays:
                self.add(pointer(path, akey, name), "dependency_array_removed", False,
                         f"the reader no longer requires anything with {name!r}", where)
        for name, needed in r_schemas.items():
            if not isinstance(name, str) or trivial(deref(needed, self.rroot)) or not self._can_send(w, name):
                continue
            if name in w_schemas and json_equal(w_schemas[name], needed):
                continue
            with_name = merge(w, {"required": [name]})
            inner = self.trial(with_name, needed, pointer(path, skey, name), where)
            if any(c.breaking for c in inner):
                self.add(pointer(path, skey, name), "dependency_schema_added", True,
                         f"with {name!r} present the reader requires a schema the writer's messages may not match",
                         where + (("prop", name),), w, r)
                self.changes.extend(inner)
        self._property_names(w, r, path, where)

    def _property_names(self, w: dict, r: dict, path: str, where: tuple) -> None:
        if "propertyNames" not in self.rkeys or "propertyNames" not in r:
            return
        names_r = deref(r["propertyNames"], self.rroot)
        if trivial(names_r):
            return
        names_w = deref(w["propertyNames"], self.wroot) if "propertyNames" in self.wkeys and \
            "propertyNames" in w else True
        at = pointer(path, "propertyNames")
        props = w.get("properties") if isinstance(w.get("properties"), dict) else {}
        for name in props:
            if deref(props[name], self.wroot) is False or not self.value_ok(name, names_w, self.wroot):
                continue
            if not self.value_ok(name, names_r, self.rroot):
                self.add(at, "property_names_narrowed", True,
                         f"the writer may send a property {name!r}, a name the reader's propertyNames rejects",
                         where + (("prop", name),), w, r)
                return
        patterns = w.get("patternProperties") if isinstance(w.get("patternProperties"), dict) else {}
        if deref(w.get("additionalProperties", True), self.wroot) is False and not patterns:
            return  # the writer sends only the names it declares, all checked above
        if trivial(names_w):
            self.add(at, "property_names_added", True,
                     "the reader limits property names; the writer may send properties of any name",
                     where + (("extra",),), w, r)
            return
        inner = self.trial(names_w, names_r, at, ())
        if any(c.breaking for c in inner):
            self.add(at, "property_names_narrowed", True,
                     "the reader's propertyNames rejects names the writer's allows", where + (("extra",),), w, r)

    # -- arrays: contains ----------------------------------------------------

    def _contains(self, w: dict, r: dict, path: str, where: tuple, w_rest: Any, w_prefix: list) -> None:
        if "contains" not in self.rkeys or "contains" not in r:
            return
        wanted = deref(r["contains"], self.rroot)
        counts = "minContains" in self.rkeys
        least = r.get("minContains", 1) if counts else 1
        most = r.get("maxContains") if counts else None
        w_has = "contains" in self.wkeys and "contains" in w
        w_least = (w.get("minContains", 1) if "minContains" in self.wkeys else 1) if w_has else 0
        w_items = w.get("minItems", 0) if isinstance(w.get("minItems"), int) else 0
        if isinstance(least, int) and least > 0:
            fits = w_has and isinstance(w_least, int) and w_least >= least and not self._breaks(w["contains"], wanted)
            every = w_items >= least and not any(self._breaks(s, wanted) for s in [*w_prefix, w_rest])
            if not fits and not every:
                kind = "contains_changed" if w_has else "contains_added"
                self.add(pointer(path, "contains"), kind, True,
                         f"the reader requires {least} item(s) matching its 'contains', which the writer does not "
                         "promise", where, w, r)
        if isinstance(most, int):
            w_most = w.get("maxItems") if isinstance(w.get("maxItems"), int) else None
            if w_most is None or w_most > most:
                self.add(pointer(path, "maxContains"), "max_contains_added", True,
                         f"the reader accepts at most {most} item(s) matching its 'contains'; the writer may send "
                         "more", where, w, r)

    def _breaks(self, w: Any, r: Any) -> bool:
        return any(c.breaking for c in self.trial(w, r, "#", ()))

    # -- if / then / else ------------------------------------------------------

    def _conditional(self, w: dict, r: dict, path: str, where: tuple) -> None:
        if "if" not in self.rkeys or "if" not in r:
            return
        condition = deref(r["if"], self.rroot)
        then, otherwise = r.get("then", True), r.get("else", True)
        if "if" in self.wkeys and all(json_equal(w.get(k, True), r.get(k, True)) for k in ("if", "then", "else")):
            return  # the writer promises the same condition
        then_changes = self.trial(w, then, pointer(path, "then"), where)
        else_changes = self.trial(w, otherwise, pointer(path, "else"), where)
        then_ok = not any(c.breaking for c in then_changes)
        else_ok = not any(c.breaking for c in else_changes)
        if then_ok and else_ok:
            return
        if then_ok and not self._breaks(w, condition):
            return  # every message of the writer meets the condition, and then the 'then'
        if else_ok and self.disjoint(w, condition):
            return  # no message of the writer meets the condition, and all meet the 'else'
        kind = "if_then_else_changed" if "if" in w else "if_then_else_added"
        self.add(pointer(path, "if"), kind, True,
                 "the reader's if/then/else rejects messages the writer may send", where, w, r)
        self.changes.extend(then_changes if not then_ok else else_changes)
