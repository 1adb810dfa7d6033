"""Values escaped for where a rendered file puts them: YAML scalars, Groovy strings, HTML text, proxy config words.

Every ``{{ value }}`` in a template goes through the template's ``Dialect`` (a
Jinja ``finalize``), so a template author cannot forget to escape: a string
becomes a double-quoted YAML scalar or a single-quoted Groovy string, whatever
it holds (colons, quotes, newlines, ``#``). On top of the quoting, a dialect
neutralises its file's own expansion syntax where it would run inside a
value: GitHub's ``${{ }}`` expressions and CircleCI's ``<< >>`` parameters.
An edge proxy's config is an injection target too: a value with a space,
``;``, ``{``, ``#`` or a newline must never become syntax there. HAProxy
values are single-quoted words (no expansion inside; a value holding a
quote or a control character is refused), nginx values double-quoted
strings (backslash and quote escaped; ``$``, which nginx expands even
inside quotes, and control characters refused).
A new kind of file is a new ``Dialect`` member and its branch in ``finalizer``.
Text a template means literally is marked with the ``verbatim`` filter;
names used as variables go through ``identifier``, which refuses anything
that is not one; a value the CI system hands to a shell as it is (Travis'
``env:`` entries, ``NAME=value``) goes through ``shell`` first, which quotes
it for sh, and is then quoted for its file like any other.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, Callable

from metarepo.errors import UsageError

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Dialect(Enum):
    """How a template's values are escaped: for which kind of file it writes."""

    YAML = "yaml"  # any YAML document (GitLab CI, Kubernetes manifests)
    GITHUB = "github"  # YAML, and GitHub Actions' ${{ }} neutralised
    CIRCLECI = "circleci"  # YAML, and CircleCI's << >> neutralised
    GROOVY = "groovy"  # a Jenkinsfile
    HTML = "html"  # an HTML page: text and double-quoted attribute values (the scorecard's report)
    HAPROXY = "haproxy"  # an HAProxy configuration
    NGINX = "nginx"  # an nginx configuration


class Verbatim(str):
    """Text a template writes as it is (already valid where it stands)."""


_YAML_ESCAPED = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\\\\\"]")
_YAML_NAMED = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def _yaml_escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _YAML_NAMED:
        return _YAML_NAMED[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) <= 0xFF else f"\\u{ord(ch):04x}"


def yaml_string(text: str) -> str:
    """``text`` as a double-quoted YAML scalar that reads back as exactly ``text``.

    Escaped: control characters, C1, the line and paragraph separators, the
    BOM, lone surrogates, the backslash and the double quote.
    """
    return '"' + _YAML_ESCAPED.sub(_yaml_escape, text) + '"'


_GROOVY_NAMED = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def groovy_string(text: str) -> str:
    """``text`` as a single-quoted Groovy string: no interpolation, nothing can end it early.

    The empty string is written ``""`` (an empty double-quoted string has
    nothing to interpolate), which tree-sitter-groovy parses where ``''`` trips it.
    """
    if text == "":
        return '""'
    out = ["'"]
    for ch in text:
        if ch in _GROOVY_NAMED:
            out.append(_GROOVY_NAMED[ch])
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append("'")
    return "".join(out)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _refuse(text: str, where: str, bad: str) -> None:
    shown = repr(text if len(text) <= 60 else text[:59] + "…")
    raise UsageError(f"{shown} cannot be written into {where}: it holds {bad}")


def haproxy_word(text: str) -> str:
    """``text`` as one single-quoted HAProxy word: no ``${}`` expansion, no escape, nothing ends it early."""
    if _CONTROL.search(text):
        _refuse(text, "an HAProxy configuration", "a control character (a newline would start a new line)")
    if "'" in text:
        _refuse(text, "an HAProxy configuration", "a single quote")
    return f"'{text}'"


def nginx_string(text: str) -> str:
    """``text`` as one double-quoted nginx string (``\\`` and ``\"`` escaped; ``$`` refused: nginx expands it)."""
    if _CONTROL.search(text):
        _refuse(text, "an nginx configuration", "a control character (a newline would start a new line)")
    if "$" in text:
        _refuse(text, "an nginx configuration", "a '$' (nginx expands variables even inside quotes)")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def github_literal(text: str) -> str:
    """Neutralise GitHub Actions expressions: ``${{`` is written as the expression ``${{ '${{' }}``."""
    return text.replace("${{", "${{ '${{' }}")


def circleci_literal(text: str) -> str:
    """Neutralise CircleCI pipeline parameters: ``<<`` is written ``\\<<``."""
    return text.replace("<<", "\\<<")


def _scalar(value: Any, quote: Callable[[str], str], literal: Callable[[str], str],
            true_false: tuple[str, str]) -> str:
    if isinstance(value, Verbatim):
        return str(value)
    if type(value).__name__.endswith("Undefined"):
        return str(value)  # StrictUndefined raises here, naming the missing value
    if isinstance(value, bool):
        return true_false[0] if value else true_false[1]
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        raise UsageError("a template wrote an empty (null) value; give it a default with `| default('')`")
    if isinstance(value, str):
        return quote(literal(value))
    raise UsageError(f"a template wrote a {type(value).__name__} where one value belongs; "
                     "loop over it or pick one item")


def html_text(text: str) -> str:
    """``text`` for HTML text or a double-quoted attribute value: ``& < > " '`` as character references."""
    import html

    return html.escape(text, quote=True)


def finalizer(dialect: Dialect) -> Callable[[Any], str]:
    """The Jinja ``finalize`` for ``dialect``."""
    same = (lambda s: s)
    literal = {Dialect.GITHUB: github_literal, Dialect.CIRCLECI: circleci_literal}.get(dialect, same)
    if dialect is Dialect.GROOVY:
        return lambda value: _scalar(value, groovy_string, same, ("true", "false"))
    if dialect is Dialect.HTML:
        return lambda value: _scalar(value, html_text, same, ("true", "false"))
    if dialect is Dialect.HAPROXY:
        return lambda value: _scalar(value, haproxy_word, same, ("true", "false"))
    if dialect is Dialect.NGINX:
        return lambda value: _scalar(value, nginx_string, same, ("on", "off"))
    return lambda value: _scalar(value, yaml_string, literal, ("true", "false"))


def identifier(value: Any) -> Verbatim:
    """A template filter: ``value`` as a bare variable name, refused unless it is one."""
    text = str(value)
    if not IDENTIFIER.match(text):
        raise UsageError(f"{text!r} is not a valid variable name (letters, digits and _, not starting "
                         "with a digit)")
    return Verbatim(text)


def shell(value: Any) -> str:
    """A template filter: ``value`` as one sh word (single-quoted), still escaped for its file afterwards."""
    import shlex

    return shlex.quote(str(value))


def verbatim(value: Any) -> Verbatim:
    """A template filter: write ``value`` as it is (the template vouches for it)."""
    return Verbatim(str(value))
