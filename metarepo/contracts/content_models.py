"""The content-model rules for arrays and objects: open, partially open and closed models.

A writer's content model is open when it lets any extra property (or tuple
item) through, partially open when extra ones must match a schema
(``additionalProperties``/``patternProperties``, or the rest of a tuple), and
closed when none may appear. A property or item that one side declares and
the other leaves to its content model is compared with that model; the
lenient policy accepts a reader constraining what an open writer may send.
Mixed into ``rules.Comparer``.
"""

from __future__ import annotations

from typing import Any

from metarepo.contracts.bounds import search
from metarepo.contracts.comparing import Comparing
from metarepo.contracts.refs import deref
from metarepo.contracts.shapes import merge, pointer, trivial


class ContentModels(Comparing):
    # -- arrays ------------------------------------------------------------

    def _arrays(self, w: dict, r: dict, path: str, where: tuple) -> None:
        self._limit(w, r, "maxItems", True, path, where)
        self._limit(w, r, "minItems", False, path, where)
        if r.get("uniqueItems") is True and w.get("uniqueItems") is not True:
            self.add(pointer(path, "uniqueItems"), "unique_items_added", True,
                     "the reader requires unique items; the writer may repeat one", where, w, r)
        elif w.get("uniqueItems") is True and r.get("uniqueItems") is not True:
            self.add(pointer(path, "uniqueItems"), "unique_items_removed", False,
                     "the reader no longer requires unique items", where)
        wp, wrest, wkey, wrest_key = _tuple_form(w, self.wkeys)
        rp, rrest, rkey, rrest_key = _tuple_form(r, self.rkeys)
        self._contains(w, r, path, where, wrest, wp)
        most = _number(w.get("maxItems"))
        for i in range(max(len(wp), len(rp))):
            if most is not None and i >= most:
                break
            at = where + (("item", i),)
            if i < len(wp) and i < len(rp):
                self.compare(wp[i], rp[i], pointer(path, rkey, i), at)
            elif i < len(rp):  # the reader constrains an item the writer leaves to its rest
                self._covered(wrest, rp[i], pointer(path, rkey, i), at, "item_added", writer_side=True)
            else:  # the writer's tuple item falls to the reader's rest
                self._covered(wp[i], rrest, pointer(path, rrest_key, ), at, "item_removed", writer_side=False)
        if deref(wrest, self.wroot) is False:
            return
        at = where + (("item", max(len(wp), len(rp))),)
        if deref(rrest, self.rroot) is False:
            self.add(pointer(path, rrest_key), "additional_items_removed", True,
                     f"the reader accepts no items past position {len(rp)}", at, wrest, False)
            return
        self.compare(wrest, rrest, pointer(path, rrest_key), at)

    def _covered(self, w: Any, r: Any, path: str, where: tuple, kind: str, *, writer_side: bool) -> None:
        """An item or property one side declares and the other leaves to its open/partial/closed model."""
        w, r = deref(w, self.wroot), deref(r, self.rroot)
        if w is False or trivial(r):
            model = "closed" if w is False else "open"
            self.add(path, f"{kind}_to_{model}_content_model" if kind.endswith("added") else
                     f"{kind}_from_{model}_content_model", False, f"{_thing(kind)} changes nothing here", where)
            return
        if writer_side and trivial(w):  # the reader constrains what an open writer may send
            self.add(path, f"{kind}_to_open_content_model", not self.lenient,
                     f"{_thing(kind)}: the writer's open content model may send anything here"
                     + (" (allowed by the lenient policy)" if self.lenient else ""), where, w, r)
            return
        if r is False:
            self.add(path, f"{kind}_from_closed_content_model", True,
                     f"{_thing(kind)}: the reader's closed content model rejects what the writer sends", where, w, r)
            return
        inner = self.trial(w, r, path, where)
        broken = any(c.breaking for c in inner)
        state = "not_covered_by" if broken else "is_covered_by"
        self.add(path, f"{kind}_{state}_partially_open_content_model", broken,
                 f"{_thing(kind)}: {'not ' if broken else ''}covered by the other side's partially open model",
                 where, w, r)
        self.changes.extend(inner)

    # -- objects -----------------------------------------------------------

    def _objects(self, w: dict, r: dict, path: str, where: tuple) -> None:
        self._limit(w, r, "maxProperties", True, path, where)
        self._limit(w, r, "minProperties", False, path, where)
        wprops = w.get("properties") if isinstance(w.get("properties"), dict) else {}
        rprops = r.get("properties") if isinstance(r.get("properties"), dict) else {}
        wpat = w.get("patternProperties") if isinstance(w.get("patternProperties"), dict) else {}
        rpat = r.get("patternProperties") if isinstance(r.get("patternProperties"), dict) else {}
        wadd, radd = w.get("additionalProperties", True), r.get("additionalProperties", True)

        def cover(name: str, patterns: dict, additional: Any, root: Any) -> Any:
            matched = []
            for pattern, schema in patterns.items():
                try:
                    if search(pattern, name):
                        matched.append(deref(schema, root))
                except ValueError:
                    continue
            if not matched:
                return deref(additional, root)
            result: Any = True
            for schema in matched:
                result = merge(result, schema)
            return result

        for name in [*wprops, *(n for n in rprops if n not in wprops)]:
            at = where + (("prop", name),)
            ppath = pointer(path, "properties", name)
            if name in wprops and name in rprops:
                self.compare(wprops[name], rprops[name], ppath, at)
            elif name in rprops:
                self._covered(cover(name, wpat, wadd, self.wroot), rprops[name], ppath, at, "property_added",
                              writer_side=True)
            else:
                self._covered(wprops[name], cover(name, rpat, radd, self.rroot), ppath, at, "property_removed",
                              writer_side=False)

        wreq = set(w.get("required") or []) if isinstance(w.get("required"), list) else set()
        rreq = r.get("required") if isinstance(r.get("required"), list) else []
        for name in rreq:
            if name in wreq or not isinstance(name, str):
                continue
            undeclared = "" if name in rprops else (
                " (the reader does not even declare it; Confluent calls this compatible, but a message "
                "without it is rejected)")
            self.add(pointer(path, "required"), "required_property_added", True,
                     f"the reader requires {name!r}, which the writer may leave out{undeclared}",
                     where + (("omit", name),), w, r)
        for name in sorted(wreq - set(rreq)):
            self.add(pointer(path, "required"), "required_property_removed", False,
                     f"the reader no longer requires {name!r}", where)

        for pattern in rpat:
            at = where + (("pattern", pattern),)
            ppath = pointer(path, "patternProperties", pattern)
            if pattern in wpat:
                self.compare(wpat[pattern], rpat[pattern], ppath, at)
            else:
                self._covered(wadd, rpat[pattern], ppath, at, "property_added", writer_side=True)
        for pattern in wpat:
            if pattern not in rpat:
                self._covered(wpat[pattern], radd, pointer(path, "patternProperties", pattern),
                              where + (("pattern", pattern),), "property_removed", writer_side=False)

        at = where + (("extra",),)
        apath = pointer(path, "additionalProperties")
        wa, ra = deref(wadd, self.wroot), deref(radd, self.rroot)
        if wa is False or trivial(ra):
            if not trivial(wa) and trivial(ra) and "additionalProperties" in w:
                self.add(apath, "additional_properties_extended", False, "the reader accepts more extra properties",
                         where)
            return
        if ra is False:
            self.add(apath, "additional_properties_narrowed", True,
                     "the reader refuses properties it does not declare (additionalProperties: false); "
                     "the writer may send them", at, wa, ra)
            return
        if trivial(wa):
            self.add(apath, "additional_properties_narrowed", not self.lenient,
                     "the reader constrains extra properties that the writer's open content model may send"
                     + (" (allowed by the lenient policy)" if self.lenient else ""), at, wa, ra)
            return
        self.compare(wa, ra, apath, at)



def _tuple_form(node: dict, keys: frozenset[str]) -> tuple[list, Any, str, str]:
    """(prefix items, the schema of the rest, prefix keyword, rest keyword) in the node's draft:
    2020-12's ``prefixItems`` and ``items``, or draft-07's tuple ``items`` and ``additionalItems``."""
    if "prefixItems" in keys:
        prefix = node.get("prefixItems")
        return prefix if isinstance(prefix, list) else [], node.get("items", True), "prefixItems", "items"
    if isinstance(node.get("items"), list):
        return node["items"], node.get("additionalItems", True), "items", "additionalItems"
    # additionalItems without the tuple form of items constrains nothing (Confluent reads it anyway).
    return [], node.get("items", True), "items", "items"



def _thing(kind: str) -> str:
    return {"property_added": "a property the reader declares", "property_removed": "a property only the writer declares",
            "item_added": "a tuple item the reader declares", "item_removed": "a tuple item only the writer declares"
            }.get(kind, kind)



def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
