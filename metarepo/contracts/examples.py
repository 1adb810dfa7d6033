"""A message that proves a breaking verdict: the writer's schema accepts it, the reader's rejects it.

Candidates are built from the writer's schema (its own examples, defaults,
enum values and bounds) at the place in the message where a breaking change
shows, nudged towards the reader's limits (one past its maxLength, a
value it does not list, a property left out). Each candidate is validated
with ``jsonschema`` against both full schemas; only one that the writer
accepts and the reader rejects is ever shown. If none is found, there is no
example: nothing is made up. Candidates stay small (``bounds``): repeats are
capped and a candidate longer than ``MAX_EXAMPLE_CHARS`` as JSON is skipped;
when a pattern runs out of time the search stops with no example.

``valid_example`` uses the same candidates for a message one schema accepts
(what ``meta broker probe`` publishes).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from metarepo.contracts.bounds import MAX_EXAMPLE_CHARS, MAX_REPEAT, Undecidable, search
from metarepo.contracts.model import NO_EXAMPLE, Change
from metarepo.contracts.refs import deref
from metarepo.contracts.validation import canonical, checker, enum_keys
from metarepo.contracts.patterns import pattern_guesses as _pattern_guesses
from metarepo.contracts.shapes import TYPES, flatten_all_of, merge, types_of

_BUDGET = 400  # candidates validated per verdict, at most
_PER_NODE = 12
_ANY = ["x", 0, None, True, {}, [], 1.5, {"x": 1}, ["x"]]
_SAMPLE_STRINGS = ["a", "abc", "ABC", "123", "a-1", "x_y", "2024-01-01", "2024-01-01T00:00:00Z",
                   "user@example.com", "00000000-0000-0000-0000-000000000000", "https://example.com/", ""]
_FORMATS = {"date-time": "2024-01-01T00:00:00Z", "date": "2024-01-01", "time": "12:00:00Z",
            "email": "user@example.com", "uuid": "00000000-0000-0000-0000-000000000000",
            "uri": "https://example.com/", "ipv4": "127.0.0.1", "hostname": "example.com"}


def validator(root: Any) -> Callable[[Any], bool]:
    return checker(root)


def find_example(writer_root: Any, reader_root: Any, changes: Iterable[Change]) -> Any:
    """A message ``writer_root`` accepts and ``reader_root`` rejects, or ``NO_EXAMPLE``."""
    writer_ok, reader_ok = validator(writer_root), validator(reader_root)
    gen = _Generator(writer_root)
    tried = 0
    seen: set[str] = set()

    def candidates() -> Iterator[Any]:
        for change in changes:
            if change.breaking and change.where is not None:
                hint = deref(change.reader, reader_root) if change.reader is not None else None
                yield from gen.embed(writer_root, change.where, hint)
        yield from gen.values(writer_root, hint=reader_root)

    import json

    try:
        for candidate in candidates():
            try:
                key = json.dumps(candidate, sort_keys=True, default=str)
            except (TypeError, ValueError, RecursionError):
                continue
            if key in seen or len(key) > MAX_EXAMPLE_CHARS:
                continue
            seen.add(key)
            tried += 1
            if tried > _BUDGET:
                break
            if writer_ok(candidate) and not reader_ok(candidate):
                return candidate
    except Undecidable:  # a pattern ran out of time: no example, rather than a wait
        pass
    return NO_EXAMPLE


def valid_example(root: Any) -> Any:
    """A message ``root`` accepts (validated with ``jsonschema``), built from its own examples, defaults,
    enums and bounds; ``NO_EXAMPLE`` when none of the candidates is valid within the budget."""
    import json

    accepts = validator(root)
    try:
        for candidate in _Generator(root).values(root)[:_BUDGET]:
            try:
                size = len(json.dumps(candidate, default=str))
            except (TypeError, ValueError, RecursionError):
                continue
            if size <= MAX_EXAMPLE_CHARS and accepts(candidate):
                return candidate
    except Undecidable:
        pass
    return NO_EXAMPLE


class _Generator:
    def __init__(self, root: Any) -> None:
        self.root = root
        self._fits: dict[int, Any] = {}

    def fits(self, value: Any, node: Any) -> bool:
        """Does ``node`` (a sub-schema of the root) accept ``value``? Used to pick likely-valid parts."""
        check = self._fits.get(id(node))
        if check is None:
            if isinstance(node, dict) and isinstance(self.root, dict):
                schema = {**node, "$defs": self.root.get("$defs", {})}
                if "$schema" in self.root:
                    schema["$schema"] = self.root["$schema"]
            else:
                schema = node
            check = self._fits[id(node)] = validator(schema)
        return check(value)

    def first(self, node: Any, depth: int) -> list:
        """Values of ``node``, the ones it accepts first."""
        options = self.values(node, None, depth)
        good = [v for v in options[:_PER_NODE * 2] if self.fits(v, node)]
        return good + [v for v in options if not any(v is g for g in good)]

    def node(self, node: Any) -> Any:
        node = deref(node, self.root)
        if isinstance(node, dict) and "allOf" in node:
            node = flatten_all_of(node, self.root)
        return node

    # -- values of one schema ------------------------------------------------

    def values(self, node: Any, hint: Any = None, depth: int = 0) -> list:
        node = self.node(node)
        if node is False:
            return []
        if node is True or not isinstance(node, dict):
            return list(_ANY)
        out: list = []
        if "const" in node:
            return [node["const"]]
        if isinstance(node.get("enum"), list):
            listed = node["enum"]
            if isinstance(hint, dict) and isinstance(hint.get("enum"), list):  # what the reader does not list first
                theirs = enum_keys(hint["enum"])
                missing = [v for v in listed if canonical(v) not in theirs]
                return missing[:_PER_NODE] + list(listed)
            return list(listed)
        if isinstance(node.get("examples"), list):
            out += node["examples"][:3]
        if "default" in node:
            out.append(node["default"])
        for key in ("anyOf", "oneOf"):
            if isinstance(node.get(key), list):
                base = {k: v for k, v in node.items() if k != key}
                for branch in node[key][:6]:
                    out += self.values(merge(base, self.node(branch)), hint, depth + 1)[:4]
                return out[:_PER_NODE * 2]
        types = types_of(node)
        if types is None:
            types = set(TYPES)
            order = ["object"] if "properties" in node or "required" in node else []
        else:
            order = []
        hint = hint if isinstance(hint, dict) else {}
        excluded = hint.get("not")
        if isinstance(excluded, dict):  # values the reader excludes are the first suspects
            out += [excluded["const"]] if "const" in excluded else list(excluded.get("enum") or [])[:6]
        for kind in [*order, *(t for t in TYPES if t in types and t not in order)]:
            out += getattr(self, f"_{kind}")(node, hint, depth)
        return out

    def _null(self, node: dict, hint: dict, depth: int) -> list:
        return [None]

    def _boolean(self, node: dict, hint: dict, depth: int) -> list:
        return [True, False]

    def _string(self, node: dict, hint: dict, depth: int) -> list:
        low = _int(node.get("minLength"), 0)
        high = _int(node.get("maxLength"), None)
        lengths = [low, low + 1, 3, 8]
        for key, shift in (("maxLength", 1), ("minLength", -1)):
            if _int(hint.get(key), None) is not None:
                lengths.append(_int(hint.get(key), 0) + shift)
        if high is not None:
            lengths.append(high)
        out = []
        if node.get("format") in _FORMATS:
            out.append(_FORMATS[node["format"]])
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            out += _pattern_guesses(pattern)
        out += ["a" * n for n in lengths if n >= 0 and (high is None or n <= high) and n < 10_000]
        out += _SAMPLE_STRINGS
        return out

    def _integer(self, node: dict, hint: dict, depth: int) -> list:
        return [v for v in self._numbers(node, hint) if isinstance(v, int)] + [
            int(v) for v in self._numbers(node, hint) if isinstance(v, float) and v.is_integer()]

    def _number(self, node: dict, hint: dict, depth: int) -> list:
        return self._numbers(node, hint) + [0.5, 1.5, -0.5]

    def _numbers(self, node: dict, hint: dict) -> list:
        out: list = [0, 1, -1, 10, 100, 10 ** 9, -(10 ** 9)]
        for source in (node, hint):
            for key, deltas in (("minimum", (0, 1, -1)), ("maximum", (0, -1, 1)), ("exclusiveMinimum", (1, 0.5, 0)),
                                ("exclusiveMaximum", (-1, -0.5, 0))):
                value = source.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out += [value + d for d in deltas]
            step = source.get("multipleOf")
            if isinstance(step, (int, float)) and not isinstance(step, bool) and step > 0:
                out += [step, step * 2, step * 3, step * 1.5]
        return out

    def _array(self, node: dict, hint: dict, depth: int) -> list:
        if depth > 5:
            return [[]]
        prefix = node.get("prefixItems") if isinstance(node.get("prefixItems"), list) else (
            node["items"] if isinstance(node.get("items"), list) else [])
        rest = node.get("items", True) if not isinstance(node.get("items"), list) else node.get("additionalItems", True)
        head = [next(iter(self.first(s, depth + 1)), None) for s in prefix]
        items = self.first(rest, depth + 1)[:4] if self.node(rest) is not False else []
        low = _int(node.get("minItems"), 0)
        lengths = {low, low + 1, 1, 2, 3}
        for key, shift in (("maxItems", 1), ("minItems", -1)):
            if _int(hint.get(key), None) is not None:
                lengths.add(_int(hint.get(key), 0) + shift)
        out = []
        for item in items or [None]:
            for n in sorted(lengths):
                if 0 <= n <= 64:
                    filler = [item] * max(0, n - len(head)) if items else []
                    out.append((head + filler)[:max(n, len(head))])
        if len(items) > 1:
            out.append(head + items)
        out.append(head)
        return out

    def _object(self, node: dict, hint: dict, depth: int) -> list:
        props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
        required = [n for n in node.get("required") or [] if isinstance(n, str)] if isinstance(
            node.get("required"), list) else []
        first = {}
        for name in [*required, *props]:
            if depth > 5 and name not in required:
                continue
            options = self.first(props.get(name, True), depth + 1) if depth <= 6 else [None]
            if options:
                first[name] = options[0]
        minimal = {n: first[n] for n in required if n in first}
        out = [minimal, dict(first)]
        # As many properties as one side allows and the other does not (maxProperties, minProperties).
        sizes = [_int(hint.get("maxProperties"), -2) + 1, _int(hint.get("minProperties"), 0) - 1,
                 _int(node.get("minProperties"), -1), _int(node.get("maxProperties"), -1)]
        extra = node.get("additionalProperties", True)
        filler = next(iter(self.first(extra, depth + 1)), 0) if self.node(extra) is not False else None
        for size in sorted({n for n in sizes if 0 <= n <= MAX_REPEAT}):
            sized = dict(list(first.items())[:max(size, len(minimal))]) if size <= len(first) else dict(first)
            for i in range(size * 2):
                if len(sized) >= size or filler is None:
                    break
                sized.setdefault(f"extra{i}", filler)
            out.append(sized)
        if depth <= 2:
            for name in props:
                for option in self.values(props[name], None, depth + 1)[1:4]:
                    out.append({**minimal, name: option})
        return out

    # -- a candidate built around the place where a change shows ---------------

    def embed(self, node: Any, where: tuple, hint: Any) -> Iterator[Any]:
        node = self.node(node)
        if not where:
            yield from self.values(node, hint)
            return
        step, rest = where[0], where[1:]
        kind = step[0]
        if kind == "branch":
            _, key, index = step
            if isinstance(node, dict) and isinstance(node.get(key), list) and index < len(node[key]):
                base = {k: v for k, v in node.items() if k != key}
                yield from self.embed(merge(base, self.node(node[key][index])), rest, hint)
            return
        bases = [b for b in self.first(node, 0) if isinstance(b, dict)][:3] or [{}]
        if kind == "omit":
            for base in bases:
                yield {k: v for k, v in base.items() if k != step[1]}
            return
        if kind == "item":
            yield from self._embed_item(node, step[1], rest, hint)
            return
        props = node.get("properties", {}) if isinstance(node, dict) else {}
        props = props if isinstance(props, dict) else {}
        if kind == "prop":
            names, sub = [step[1]], props.get(step[1], self._cover(node, step[1]))
        elif kind == "pattern":
            names = [n for n in _pattern_guesses(step[1]) if n not in props][:3]
            patterns = node.get("patternProperties") if isinstance(node, dict) else None
            sub = patterns.get(step[1], True) if isinstance(patterns, dict) else True
        else:  # "extra": a property no one declares (named as the writer's propertyNames allows)
            names = [n for n in ("extra", "x_extra", "zz_unknown") if n not in props]
            allowed = node.get("propertyNames") if isinstance(node, dict) else None
            if isinstance(allowed, dict):
                limit = hint.get("propertyNames") if isinstance(hint, dict) else None
                more = [v for v in self.values(allowed, limit) if isinstance(v, str)]
                names = list(dict.fromkeys(n for n in more if n not in props))[:6] + names
            sub = node.get("additionalProperties", True) if isinstance(node, dict) else True
        for value in list(self.embed(sub, rest, hint))[:_PER_NODE * 2]:
            for name in names:
                for base in bases:
                    yield {**base, name: value}

    def _embed_item(self, node: Any, index: int, rest: tuple, hint: Any) -> Iterator[Any]:
        if not isinstance(node, dict):
            return
        prefix = node.get("prefixItems") if isinstance(node.get("prefixItems"), list) else (
            node["items"] if isinstance(node.get("items"), list) else [])
        tail = node.get("items", True) if not isinstance(node.get("items"), list) else node.get("additionalItems", True)

        def schema_at(i: int) -> Any:
            return prefix[i] if i < len(prefix) else tail

        head = [next(iter(self.first(schema_at(i), 1)), None) for i in range(index)]
        for value in list(self.embed(schema_at(index), rest, hint))[:_PER_NODE * 2]:
            yield head + [value]
            low = _int(node.get("minItems"), 0)
            if index + 1 < low <= MAX_REPEAT:
                yield head + [value] * (low - index)

    def _cover(self, node: Any, name: str) -> Any:
        if not isinstance(node, dict):
            return True
        for pattern, schema in (node.get("patternProperties") or {}).items():
            try:
                if search(pattern, name):
                    return schema
            except ValueError:
                continue
        return node.get("additionalProperties", True)


def _int(value: Any, default: Any) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
