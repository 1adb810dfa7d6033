"""The JSON Schema compatibility rules: can a reader accept everything a writer sends?

The rules follow the Confluent Schema Registry's JSON Schema diff (kinds are
its difference types, lower-cased): strict by default; ``lenient`` relaxes the
open-content-model cases (a property or tuple item the reader constrains where
the writer's content model is open). Two places where Confluent is wrong are
right here: a ``required`` name the reader gains breaks even when its
``properties`` do not declare it, and ``additionalItems`` without the tuple
form of ``items`` constrains nothing, so changing it changes nothing. A
keyword Confluent ignores is not ignored here (``extra_keywords``), and each
side's draft decides which keywords it has.

Each change records the schema path, the kind, whether it breaks, and where
in a message it shows (for the example generator).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from metarepo.contracts.content_models import ContentModels
from metarepo.contracts.extra_keywords import ExtraKeywords, keywords_of
from metarepo.contracts.model import LENIENT, Change
from metarepo.contracts.refs import deref
from metarepo.contracts.shapes import (TYPES, accepts_type, finite_values, flatten_all_of, merge,
                                       pointer, same_schema, trivial, types_of,
                                       types_overlap)
from metarepo.contracts.validation import checker

_MAX_DEPTH = 64


class Comparer(ContentModels, ExtraKeywords):
    """One writer/reader comparison of two self-contained schemas (the ``comparing.Comparing`` its mixins use)."""

    def __init__(self, writer_root: Any, reader_root: Any, policy: str = "strict") -> None:
        self.wroot, self.rroot = writer_root, reader_root
        self.lenient = policy == LENIENT
        self.wkeys, self.rkeys = keywords_of(writer_root), keywords_of(reader_root)
        self.changes: list[Change] = []
        self.visiting: set[tuple[int, int]] = set()
        self.depth = 0
        self.excluded: dict[tuple, list] = {}  # where -> schemas the writer there never matches (oneOf siblings)
        self._validators: dict[tuple[int, int], tuple[Any, Any, Any]] = {}

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
        """Does ``node`` (a sub-schema of ``root``) accept ``value``? (One validator per node, kept: checking
        each value of a long enum is linear.)"""
        if not isinstance(node, dict):
            return node is not False
        key = (id(node), id(root))
        known = self._validators.get(key)
        if known is None:
            schema = {**node, "$defs": root.get("$defs", {})} if isinstance(root, dict) else node
            if isinstance(root, dict) and "$schema" in root:
                schema["$schema"] = root["$schema"]
            known = self._validators[key] = (node, root, checker(schema))  # the node kept: its id stays its own
        return known[2](value)

    # -- the rules ---------------------------------------------------------

    def _compare(self, w: Any, r: Any, path: str, where: tuple) -> None:
        if trivial(r) or w is False or same_schema(w, r):
            return
        if r is False:
            self.add(path, "schema_closed", True, "the reader accepts nothing here", where, w, r)
            return
        w = {} if w is True else w
        if not isinstance(w, dict) or not isinstance(r, dict):
            return
        if any(trivial(s) or same_schema(w, s) for s in self.excluded.get(where, [])):
            return  # a oneOf branch whose messages would also match a sibling: it sends nothing
        if "allOf" in w:
            w = flatten_all_of(w, self.wroot)
            if w is False:
                return
            w = {} if w is True else w
        for key in ("anyOf", "oneOf"):
            if isinstance(w.get(key), list):
                # unevaluated* next to an anyOf sees what every matching branch evaluates: left out (wider)
                base = {k: v for k, v in w.items() if k != key and not (key == "anyOf" and k.startswith("unevaluated"))}
                branches = [merge(base, flatten_all_of(deref(b, self.wroot), self.wroot)) for b in w[key]]
                inherited = self.excluded.get(where, [])
                for i, branch in enumerate(branches):
                    at = where + (("branch", key, i),)
                    self.excluded[at] = inherited + (  # a message of a oneOf branch matches none of its siblings
                        [b for j, b in enumerate(branches) if j != i] if key == "oneOf" else [])
                    self.compare(branch, r, pointer(path, key, i), at)
                return
        r = self.reader_rest(r)
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
        w = self.writer_rest(w)
        self._conditional(w, r, path, where)
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
            self._object_keywords(w, r, path, where)

    def _reader_union(self, w: dict, r: dict, key: str, path: str, where: tuple) -> None:
        base = {k: v for k, v in r.items() if k != key}
        branches = [merge(base, deref(branch, self.rroot)) for branch in r[key]]
        # Branches equal to a oneOf sibling of the writer's are ones its messages never match.
        siblings = self.excluded.get(where, [])
        candidates = [i for i, b in enumerate(branches)
                      if not any(same_schema(flatten_all_of(b, self.rroot), s) for s in siblings)]
        if not candidates:
            self.add(pointer(path, key), "combined_type_subschemas_changed", True,
                     f"no branch of the reader's {key} can accept what the writer sends", where, w, r)
            return
        best: list[Change] | None = None
        chosen = candidates[0]
        for i in candidates:
            trial = self.trial(w, branches[i], pointer(path, key, i), where)
            if best is None or sum(c.breaking for c in trial) < sum(c.breaking for c in best):
                best, chosen = trial, i
            if not any(c.breaking for c in trial):
                break
        best = best or []
        if any(c.breaking for c in best):
            self.add(pointer(path, key), "combined_type_subschemas_changed", True,
                     f"no branch of the reader's {key} accepts everything the writer sends", where, w, r)
        elif key == "oneOf":
            # oneOf rejects a message that matches two branches: the others must not overlap the writer.
            overlapping = [j for j in candidates if j != chosen and not self.disjoint(w, branches[j])]
            if overlapping:
                self.add(pointer(path, key, overlapping[0]), "one_of_overlap", True,
                         f"a message may match branches {chosen} and {overlapping[0]} of the reader's oneOf, "
                         "which then rejects it", where, w, r)
        self.changes.extend(best)

    def disjoint(self, a: Any, b: Any, depth: int = 0) -> bool:
        """Provably no message matches both ``a`` (of the writer) and ``b`` (of the reader)."""
        a, b = deref(a, self.wroot), deref(b, self.rroot)
        if a is False or b is False:
            return True
        if not isinstance(a, dict) or not isinstance(b, dict) or depth > 8:
            return False
        ta, tb = types_of(a), types_of(b)
        if ta is not None and tb is not None and not types_overlap(ta, tb):
            return True
        values = finite_values(a)
        if values is not None:
            return not any(self.value_ok(v, a, self.wroot) and self.value_ok(v, b, self.rroot) for v in values)
        values = finite_values(b)
        if values is not None:
            return not any(self.value_ok(v, a, self.wroot) and self.value_ok(v, b, self.rroot) for v in values)
        a_props, b_props = a.get("properties"), b.get("properties")
        if isinstance(a_props, dict) and isinstance(b_props, dict) and ta == {"object"}:
            required = set(a.get("required") or []) if isinstance(a.get("required"), list) else set()
            for name in required & set(a_props) & set(b_props):
                if self.disjoint(a_props[name], b_props[name], depth + 1):
                    return True  # a always has the property, b only allows values a never sends
        return False

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
        if wt is not None and nt is not None and not types_overlap(wt, nt):
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


def _types_text(types: set[str]) -> str:
    return " or ".join(sorted(types))


def _values_text(values: list) -> str:
    shown = ", ".join(repr(v) for v in values[:5])
    return shown + (", ..." if len(values) > 5 else "")

