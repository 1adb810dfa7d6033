"""The JSON Schema compatibility rules: can a reader accept everything a writer sends?

The rules follow the Confluent Schema Registry's JSON Schema diff (kinds are
its difference types, lower-cased): strict by default; ``lenient`` relaxes the
open-content-model cases (a property or tuple item the reader constrains where
the writer's content model is open). Two places where Confluent is wrong are
right here: a ``required`` name the reader gains breaks even when its
``properties`` do not declare it, and ``additionalItems`` without the tuple
form of ``items`` constrains nothing, so changing it changes nothing.

Each change records the schema path, the kind, whether it breaks, and where
in a message it shows (for the example generator).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from metarepo.contracts.model import LENIENT, Change
from metarepo.contracts.refs import deref
from metarepo.contracts.shapes import (TYPES, accepts_type, finite_values, flatten_all_of, json_equal, merge,
                                       pointer, trivial, types_of)

_MAX_DEPTH = 64


class Comparer:
    """One writer/reader comparison of two self-contained schemas."""

    def __init__(self, writer_root: Any, reader_root: Any, policy: str = "strict") -> None:
        self.wroot, self.rroot = writer_root, reader_root
        self.lenient = policy == LENIENT
        self.changes: list[Change] = []
        self.visiting: set[tuple[int, int]] = set()
        self.depth = 0
        self._validators: dict[str, Any] = {}

    def run(self) -> list[Change]:
        self.compare(self.wroot, self.rroot, "#", ())
        return self.changes

    # -- plumbing ----------------------------------------------------------

    def add(self, path: str, kind: str, breaking: bool, message: str, where: tuple = (),
            writer: Any = None, reader: Any = None) -> None:
        self.changes.append(Change(path, kind, breaking, message, where, writer, reader))

    def trial(self, w: Any, r: Any, path: str, where: tuple) -> list[Change]:
        """Compare without recording; the caller decides what to keep."""
        saved, self.changes = self.changes, []
        try:
            self.compare(w, r, path, where)
            return self.changes
        finally:
            self.changes = saved

    def compare(self, w: Any, r: Any, path: str, where: tuple) -> None:
        w, r = deref(w, self.wroot), deref(r, self.rroot)
        key = (id(w), id(r))
        if key in self.visiting or self.depth > _MAX_DEPTH:
            return  # a recursive schema meets itself again: what holds for it holds here
        self.visiting.add(key)
        self.depth += 1
        try:
            self._compare(w, r, path, where)
        finally:
            self.depth -= 1
            self.visiting.discard(key)

    def value_ok(self, value: Any, node: Any, root: Any) -> bool:
        """Does ``node`` (a sub-schema of ``root``) accept ``value``?"""
        from jsonschema import Draft202012Validator, validators

        if not isinstance(node, dict):
            return node is not False
        schema = {**node, "$defs": root.get("$defs", {})} if isinstance(root, dict) else node
        if isinstance(root, dict) and "$schema" in root:
            schema["$schema"] = root["$schema"]
        try:
            cls = validators.validator_for(schema, default=Draft202012Validator)
            return cls(schema).is_valid(value)
        except Exception:  # noqa: BLE001 - an odd pattern or ref: say "no" and keep comparing
            return False

    # -- the rules ---------------------------------------------------------

    def _compare(self, w: Any, r: Any, path: str, where: tuple) -> None:
        if trivial(r) or w is False or (w == r and json_equal(w, r)):
            return
        if r is False:
            self.add(path, "schema_closed", True, "the reader accepts nothing here", where, w, r)
            return
        w = {} if w is True else w
        if not isinstance(w, dict) or not isinstance(r, dict):
            return
        if "allOf" in w:
            w = flatten_all_of(w, self.wroot)
            if w is False:
                return
            w = {} if w is True else w
        for key in ("anyOf", "oneOf"):
            if isinstance(w.get(key), list):
                base = {k: v for k, v in w.items() if k != key}
                for i, branch in enumerate(w[key]):
                    branch = deref(branch, self.wroot)
                    self.compare(merge(base, flatten_all_of(branch, self.wroot)), r, pointer(path, key, i),
                                 where + (("branch", key, i),))
                return
        if isinstance(r.get("allOf"), list):
            for i, branch in enumerate(r["allOf"]):
                self.compare(w, branch, pointer(path, "allOf", i), where)
            r = {k: v for k, v in r.items() if k != "allOf"}
        for key in ("anyOf", "oneOf"):
            if isinstance(r.get(key), list):
                self._reader_union(w, r, key, path, where)
                return
        if "not" in r:
            self._not(w, r, path, where)
        finite = finite_values(w)
        if finite is not None:
            self._finite(w, r, finite, path, where)
            return
        active = self._types(w, r, path, where)
        if "const" in r or "enum" in r:
            self._enum(w, r, path, where)
        if active & {"integer", "number"}:
            self._numbers(w, r, path, where, active)
        if "string" in active:
            self._strings(w, r, path, where)
        if "array" in active:
            self._arrays(w, r, path, where)
        if "object" in active:
            self._objects(w, r, path, where)

    def _reader_union(self, w: dict, r: dict, key: str, path: str, where: tuple) -> None:
        base = {k: v for k, v in r.items() if k != key}
        best: list[Change] | None = None
        for i, branch in enumerate(r[key]):
            trial = self.trial(w, merge(base, deref(branch, self.rroot)), pointer(path, key, i), where)
            if best is None or sum(c.breaking for c in trial) < sum(c.breaking for c in best):
                best = trial
            if not any(c.breaking for c in trial):
                break
        best = best or []
        if any(c.breaking for c in best):
            self.add(pointer(path, key), "combined_type_subschemas_changed", True,
                     f"no branch of the reader's {key} accepts everything the writer sends", where, w, r)
        self.changes.extend(best)

    def _not(self, w: dict, r: dict, path: str, where: tuple) -> None:
        excluded = deref(r["not"], self.rroot)
        if "not" in w:
            # The reader excludes N_r, the writer never sends N_w: fine if N_r lies inside N_w.
            inner = Comparer(self.rroot, self.wroot, "strict")
            inner.compare(excluded, w["not"], pointer(path, "not"), ())
            if any(c.breaking for c in inner.changes):
                self.add(pointer(path, "not"), "not_type_narrowed", True,
                         "the reader excludes values the writer may send", where, w, r)
            return
        wt, nt = types_of(w), types_of(excluded)
        if wt is not None and nt is not None and not any(accepts_type(nt, t) for t in wt):
            return  # the excluded values are of a type the writer never sends
        self.add(pointer(path, "not"), "not_type_added", True,
                 "the reader excludes values (not) that the writer may send", where, w, r)

    def _finite(self, w: dict, r: dict, values: list, path: str, where: tuple) -> None:
        sendable = [v for v in values if self.value_ok(v, w, self.wroot)]
        refused = [v for v in sendable if not self.value_ok(v, r, self.rroot)]
        if not refused:
            extra = finite_values(r)
            if extra is not None and len(extra) > len(values) and ("enum" in r or "const" in r):
                self.add(path, "enum_array_extended", False, "the reader accepts more values", where)
            return
        kind = ("const_changed" if "const" in r else "enum_array_narrowed" if "enum" in r
                else "type_changed" if r.get("type") and not any(
                    accepts_type(types_of(r) or set(), t) for t in types_of(w) or ()) else "value_rejected")
        shown = ", ".join(repr(v) for v in refused[:3])
        self.add(path, kind, True, f"the writer may send {shown}, which the reader rejects", where, w, r)

    def _types(self, w: dict, r: dict, path: str, where: tuple) -> set[str]:
        wt, rt = types_of(w), types_of(r)
        active = set(TYPES) if wt is None else wt
        if rt is None:
            return active
        if wt is None:
            self.add(pointer(path, "type"), "type_narrowed", True,
                     f"the reader accepts only {_types_text(rt)}; the writer sends any type", where, w, r)
            return {t for t in active if accepts_type(rt, t)} | ({"number"} & rt)
        missing = sorted(t for t in wt if not accepts_type(rt, t))
        if missing:
            kind = "type_changed" if len(missing) == len(wt) else "type_narrowed"
            self.add(pointer(path, "type"), kind, True,
                     f"the writer sends {_types_text(set(missing))}, the reader accepts only {_types_text(rt)}",
                     where, w, r)
        elif rt - wt:
            self.add(pointer(path, "type"), "type_extended", False,
                     f"the reader also accepts {_types_text(rt - wt)}", where)
        return {t for t in wt if accepts_type(rt, t)}

    def _enum(self, w: dict, r: dict, path: str, where: tuple) -> None:
        kind = "const" if "const" in r else "enum"
        allowed = [r["const"]] if "const" in r else r.get("enum") if isinstance(r.get("enum"), list) else None
        if allowed is None:
            return
        self.add(pointer(path, kind), f"{kind}_added" if kind == "const" else "enum_array_added", True,
                 f"the reader accepts only {_values_text(allowed)}; the writer is not limited to them",
                 where, w, r)

    # -- numbers, strings --------------------------------------------------

    def _numbers(self, w: dict, r: dict, path: str, where: tuple, active: set[str]) -> None:
        for side, names in (("maximum", ("maximum", "exclusiveMaximum")), ("minimum", ("minimum", "exclusiveMinimum"))):
            wb, rb = _bound(w, names), _bound(r, names)
            upper = side == "maximum"
            keyword = names[1] if rb and rb[1] else names[0]
            kw = _snake(keyword)
            if rb is None:
                if wb is not None:
                    self.add(pointer(path, names[0]), f"{kw}_removed", False, f"the reader drops its {keyword}",
                             where)
                continue
            if wb is None:
                self.add(pointer(path, keyword), f"{kw}_added", True,
                         f"the reader adds {keyword} {rb[0]}; the writer has no such bound", where, w, r)
                continue
            inside = (wb[0] < rb[0] if upper else wb[0] > rb[0]) or (wb[0] == rb[0] and (wb[1] or not rb[1]))
            if not inside:
                word = "decreased" if upper else "increased"
                self.add(pointer(path, keyword), f"{kw}_{word}", True,
                         f"{keyword} went from {wb[0]} to {rb[0]}: the writer may send values the reader rejects",
                         where, w, r)
            elif wb != rb:
                word = "increased" if upper else "decreased"
                self.add(pointer(path, keyword), f"{kw}_{word}", False, f"{keyword} relaxed to {rb[0]}", where)
        rm, wm = r.get("multipleOf"), w.get("multipleOf")
        if isinstance(rm, (int, float)) and not isinstance(rm, bool) and rm > 0:
            base = wm if isinstance(wm, (int, float)) and not isinstance(wm, bool) and wm > 0 else (
                1 if active <= {"integer"} else None)
            if base is None:
                self.add(pointer(path, "multipleOf"), "multiple_of_added", True,
                         f"the reader requires multiples of {rm}", where, w, r)
            elif (Fraction(str(base)) / Fraction(str(rm))).denominator != 1:
                kind = "multiple_of_added" if wm is None else "multiple_of_changed"
                self.add(pointer(path, "multipleOf"), kind, True,
                         f"the writer sends multiples of {base}, the reader requires multiples of {rm}", where, w, r)
            elif wm is not None and wm != rm:
                self.add(pointer(path, "multipleOf"), "multiple_of_reduced", False,
                         f"multipleOf {wm} to {rm} still divides", where)
        elif wm is not None and rm is None:
            self.add(pointer(path, "multipleOf"), "multiple_of_removed", False, "the reader drops multipleOf", where)

    def _strings(self, w: dict, r: dict, path: str, where: tuple) -> None:
        self._limit(w, r, "maxLength", True, path, where)
        self._limit(w, r, "minLength", False, path, where)
        rp, wp = r.get("pattern"), w.get("pattern")
        if isinstance(rp, str):
            if wp is None:
                self.add(pointer(path, "pattern"), "pattern_added", True,
                         f"the reader requires the pattern {rp!r}", where, w, r)
            elif wp != rp and not (wp.startswith("^(?=") and f"(?:{rp}))" in wp):  # an allOf of patterns
                self.add(pointer(path, "pattern"), "pattern_changed", True,
                         f"the pattern changed from {wp!r} to {rp!r}", where, w, r)
        elif wp is not None:
            self.add(pointer(path, "pattern"), "pattern_removed", False, "the reader drops its pattern", where)

    def _limit(self, w: dict, r: dict, keyword: str, upper: bool, path: str, where: tuple,
               at: tuple | None = None) -> None:
        wv, rv = _number(w.get(keyword)), _number(r.get(keyword))
        kw = _snake(keyword)
        if rv is None:
            if wv is not None:
                self.add(pointer(path, keyword), f"{kw}_removed", False, f"the reader drops {keyword}", where)
            return
        if wv is None:
            if not upper and rv <= 0:
                return
            self.add(pointer(path, keyword), f"{kw}_added", True,
                     f"the reader adds {keyword} {rv}; the writer has no such limit", at or where, w, r)
            return
        if (wv > rv) if upper else (wv < rv):
            word = "decreased" if upper else "increased"
            self.add(pointer(path, keyword), f"{kw}_{word}", True,
                     f"{keyword} went from {wv} to {rv}", at or where, w, r)
        elif wv != rv:
            word = "increased" if upper else "decreased"
            self.add(pointer(path, keyword), f"{kw}_{word}", False, f"{keyword} relaxed to {rv}", where)

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
        if "contains" in r and not trivial(r["contains"]) and "contains" not in w:
            self.add(pointer(path, "contains"), "contains_added", True,
                     "the reader requires an item matching 'contains'", where, w, r)
        wp, wrest, wkey, wrest_key = _tuple_form(w)
        rp, rrest, rkey, rrest_key = _tuple_form(r)
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
        import re

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
                    if re.search(pattern, name):
                        matched.append(deref(schema, root))
                except re.error:
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


def _tuple_form(node: dict) -> tuple[list, Any, str, str]:
    """(prefix items, the schema of the rest, prefix keyword, rest keyword) for draft-07 and 2020-12."""
    if isinstance(node.get("prefixItems"), list):
        return node["prefixItems"], node.get("items", True), "prefixItems", "items"
    if isinstance(node.get("items"), list):
        return node["items"], node.get("additionalItems", True), "items", "additionalItems"
    # additionalItems without the tuple form of items constrains nothing (Confluent reads it anyway).
    return [], node.get("items", True), "items", "items"


def _bound(node: dict, names: tuple[str, str]) -> tuple[float, bool] | None:
    """The tighter of ``maximum``/``exclusiveMaximum`` (or the minimum pair) as (value, exclusive)."""
    inclusive, exclusive = node.get(names[0]), node.get(names[1])
    upper = names[0] == "maximum"
    best: tuple[float, bool] | None = None
    if _number(inclusive) is not None:
        best = (inclusive, exclusive is True)  # draft-04's boolean exclusiveMaximum
    if _number(exclusive) is not None:
        candidate = (exclusive, True)
        if best is None or (candidate[0] <= best[0] if upper else candidate[0] >= best[0]):
            best = candidate
    return best


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _snake(keyword: str) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", keyword).lower()


def _thing(kind: str) -> str:
    return {"property_added": "a property the reader declares", "property_removed": "a property only the writer declares",
            "item_added": "a tuple item the reader declares", "item_removed": "a tuple item only the writer declares"
            }.get(kind, kind)


def _types_text(types: set[str]) -> str:
    return " or ".join(sorted(types))


def _values_text(values: list) -> str:
    shown = ", ".join(repr(v) for v in values[:5])
    return shown + (", ..." if len(values) > 5 else "")

