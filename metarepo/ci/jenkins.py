"""Jenkinsfiles: parsed as Groovy with tree-sitter-groovy, then the declarative structure checked.

The checks are the ones Jenkins' declarative validator makes before a build
can start: one ``pipeline { }`` with ``agent`` and ``stages``, only known
sections, every ``stage('name')`` named once and holding exactly one of
``steps``, ``stages``, ``parallel`` or ``matrix``; and ours: a deploy stage
runs on the default branch only (``when { branch 'master' }``), and one with
an ``input`` checks that ``when`` first (``beforeInput true``): Jenkins asks for
a stage's input before its ``when`` unless told, so every branch would wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

PIPELINE_SECTIONS = {"agent", "environment", "options", "parameters", "triggers", "tools", "stages", "post",
                     "libraries"}
STAGE_DIRECTIVES = {"agent", "environment", "input", "options", "when", "steps", "stages", "parallel",
                    "matrix", "post", "tools", "failFast"}
STAGE_BODIES = ("steps", "stages", "parallel", "matrix")


@dataclass(frozen=True)
class Call:
    """``name(args) { closure }`` or ``name 'arg'`` or ``agent any`` in a declarative block."""

    name: str
    line: int  # 1-based
    args: tuple[Any, ...]  # the argument nodes
    closure: Any  # the closure node, or None


class JenkinsfileInvalid(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def _parser() -> Any:
    import tree_sitter
    import tree_sitter_groovy

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_groovy.language()))


def check_jenkinsfile(text: str, branch: str) -> None:
    """Raise ``JenkinsfileInvalid`` (line, message) at the first problem."""
    tree = _parser().parse(text.encode("utf-8"))
    if tree.root_node.has_error:
        braces = brace_problem(text)
        if braces is not None:
            raise JenkinsfileInvalid(*braces)
        bad = _first_error(tree.root_node)
        line = bad.start_point[0] + 1 if bad is not None else 1
        what = f"missing {bad.type!r}" if bad is not None and bad.is_missing else "unexpected text"
        raise JenkinsfileInvalid(line, f"Groovy syntax error ({what})")
    top = [c for c in _calls(tree.root_node) if c.name == "pipeline"]
    if len(top) != 1 or top[0].closure is None:
        raise JenkinsfileInvalid(1, "a declarative Jenkinsfile needs exactly one `pipeline { }` block")
    pipeline = top[0]
    sections = _calls(pipeline.closure)
    _known(sections, PIPELINE_SECTIONS, "pipeline")
    names = [s.name for s in sections]
    for required in ("agent", "stages"):
        if required not in names:
            raise JenkinsfileInvalid(pipeline.line, f"`pipeline` has no `{required}` section")
    for name in set(names):
        if names.count(name) > 1:
            raise JenkinsfileInvalid(pipeline.line, f"`pipeline` has more than one `{name}` section")
    stages = next(s for s in sections if s.name == "stages")
    _check_stages(stages, branch, set())


def _check_stages(stages: Call, branch: str, seen: set[str]) -> None:
    if stages.closure is None:
        raise JenkinsfileInvalid(stages.line, "`stages` needs a block")
    items = _calls(stages.closure)
    if not items:
        raise JenkinsfileInvalid(stages.line, "`stages` holds no stage")
    for item in items:
        if item.name != "stage":
            raise JenkinsfileInvalid(item.line, f"only `stage('name') {{ }}` may stand in `stages`, not `{item.name}`")
        if len(item.args) != 1 or _string(item.args[0]) is None or item.closure is None:
            raise JenkinsfileInvalid(item.line, "a stage needs a name in quotes and a block: stage('Test') { }")
        name = _string(item.args[0])
        if name in seen:
            raise JenkinsfileInvalid(item.line, f"stage {name!r} appears twice")
        seen.add(name)
        directives = _calls(item.closure)
        _known(directives, STAGE_DIRECTIVES, f"stage {name!r}")
        bodies = [d for d in directives if d.name in STAGE_BODIES]
        if len(bodies) != 1:
            raise JenkinsfileInvalid(item.line, f"stage {name!r} needs exactly one of steps, stages, parallel "
                                                "or matrix")
        if bodies[0].name in ("stages", "parallel"):
            _check_stages(bodies[0], branch, seen)
        if "deploy" in name.lower():
            _check_deploy(item, name, directives, branch)


def _check_deploy(stage: Call, name: str, directives: list[Call], branch: str) -> None:
    when = next((d for d in directives if d.name == "when"), None)
    branches = [] if when is None or when.closure is None else [
        _string(c.args[0]) for c in _calls(when.closure) if c.name == "branch" and len(c.args) == 1]
    if branch not in branches:
        raise JenkinsfileInvalid(stage.line, f"deploy stage {name!r} must run on the default branch only: "
                                             f"add `when {{ branch '{branch}' }}`")
    if any(d.name == "input" for d in directives) and not _before_input(when):
        raise JenkinsfileInvalid(when.line, f"deploy stage {name!r} asks for its input before `when` is checked, "
                                            "so every branch's build would wait for approval: add "
                                            "`beforeInput true` to its `when`")


def _before_input(when: Call) -> bool:
    return any(c.name == "beforeInput" and len(c.args) == 1 and c.args[0].text == b"true"
               for c in _calls(when.closure))


def _known(calls: list[Call], allowed: set[str], where: str) -> None:
    for call in calls:
        if call.name not in allowed:
            raise JenkinsfileInvalid(call.line, f"unknown section `{call.name}` in {where}")


def _calls(node: Any) -> list[Call]:
    """The declarative items directly inside ``node`` (a closure or the program)."""
    result = []
    for child in node.named_children:
        target = child
        if child.type == "expression_statement" and child.named_child_count == 1:
            target = child.named_children[0]
        call = _as_call(target)
        if call is not None:
            result.append(call)
    return result


def _as_call(node: Any) -> Call | None:
    line = node.start_point[0] + 1
    if node.type in ("method_invocation", "juxt_function_call"):
        name_node = node.child_by_field_name("name") or next(
            (c for c in node.named_children if c.type == "identifier"), None)
        if name_node is None:
            return None
        args: tuple[Any, ...] = ()
        closure = None
        for c in node.named_children:
            if c.type == "argument_list":
                args = tuple(a for a in c.named_children)
            elif c.type == "closure":
                closure = c
        return Call(name_node.text.decode(), line, args, closure)
    if node.type == "local_variable_declaration":  # `agent any`, `agent none`
        kind = next((c for c in node.named_children if c.type == "type_identifier"), None)
        if kind is not None:
            return Call(kind.text.decode(), line, (), None)
    return None


def _string(node: Any) -> str | None:
    """The value of a Groovy string literal node (no interpolation), or None."""
    if node is None or node.type not in ("character_literal", "string_literal"):
        return None
    raw = node.text.decode()
    for quote in ("'''", '"""', "'", '"'):
        if raw.startswith(quote) and raw.endswith(quote) and len(raw) >= 2 * len(quote):
            body = raw[len(quote):-len(quote)]
            break
    else:
        return None
    if '"' in quote and "$" in body:
        return None  # an interpolated GString: not a constant
    out, i = [], 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", "'": "'", '"': '"', "$": "$"}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 6 <= len(body):
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(escapes.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _first_error(node: Any) -> Any:
    """A MISSING node if there is one, else the innermost ERROR node (tree-sitter's best guess of where)."""
    errors = [n for n in _walk(node) if n.is_error or n.is_missing]
    missing = [n for n in errors if n.is_missing]
    if missing:
        return missing[0]
    innermost = [n for n in errors if not any(c.has_error for c in n.children)]
    return (innermost or errors or [None])[0]


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in node.children:
        yield from _walk(child)


def brace_problem(text: str) -> tuple[int, str] | None:
    """Where braces stop matching, judged by indentation as a reader would (strings and comments skipped).

    When one ``}`` is missing tree-sitter can only say the whole ``pipeline``
    block failed; the block whose closing brace sits at another indentation
    than its opening line is almost always the culprit.
    """
    stack: list[tuple[int, int]] = []  # (line, indentation) of each open brace
    lines = text.split("\n")
    i, line, n = 0, 1, len(text)
    mismatch = None
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif text.startswith(("'''", '"""'), i):
            end = text.find(text[i:i + 3], i + 3)
            end = n if end < 0 else end + 3
            line += text.count("\n", i, end)
            i = end
            continue
        elif ch in "'\"":
            j = i + 1
            while j < n and text[j] != ch and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += text.count("\n", i, end)
            i = end
            continue
        elif ch == "{":
            current = lines[line - 1]
            stack.append((line, len(current) - len(current.lstrip())))
        elif ch == "}":
            if not stack:
                return mismatch or (line, "Groovy syntax error: this `}` closes nothing")
            opened, indent = stack.pop()
            current = lines[line - 1]
            closing = len(current) - len(current.lstrip())
            if mismatch is None and opened != line and current.strip().startswith("}") and closing != indent:
                if closing < indent:  # the block opened deeper was never closed
                    mismatch = (opened, "Groovy syntax error: the `{` on this line is not closed where its "
                                        "indentation says")
                else:  # a brace too many (or one opened by mistake)
                    mismatch = (line, f"Groovy syntax error: this `}}` does not line up with the `{{` it closes "
                                      f"(line {opened}); one too many?")
        i += 1
    if mismatch is not None:
        return mismatch
    if stack:
        return stack[-1][0], "Groovy syntax error: the `{` on this line is never closed"
    return None
