"""Queries filled in with a release's values: a value is only ever a string's content, whatever it holds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from metarepo.monitor.condition import ConditionError, parse_condition
from metarepo.monitor.promql import QueryError, check_query, fill_query, quote

VALUES = {"service": "orders", "version": "1.4.2", "sha": "ab" * 20, "project": "services/orders",
          "environment": "staging"}


def unquote(literal: str) -> str:
    """A double-quoted PromQL string back to its value (Go's escapes, as Prometheus' lexer reads them)."""
    import codecs

    assert literal[0] == literal[-1] == '"'
    return codecs.decode(literal[1:-1].encode("latin-1", "backslashreplace"), "unicode_escape")


def strings_of(query: str) -> list[str]:
    """The double-quoted string literals of ``query``, as written, found by a scanner of the test's own."""
    found, i = [], 0
    while i < len(query):
        if query[i] == '"':
            j = i + 1
            while query[j] != '"':
                j += 2 if query[j] == "\\" else 1
            found.append(query[i:j + 1])
            i = j + 1
        else:
            i += 1
    return found


def test_placeholders_become_string_content_in_strings_and_string_literals_outside_them():
    query = 'sum(rate(http_requests_total{service="{service}",version=~"{version}"}[1m])) / {environment}'
    assert fill_query(query, VALUES) == (r'sum(rate(http_requests_total{service="orders",version=~"1\\.4\\.2"}[1m]))'
                                         ' / "staging"')  # the regex gets 1\.4\.2: dots, not any character
    assert fill_query("up{job='{project}'} # {version} is left alone here", VALUES) == \
        "up{job='services/orders'} # {version} is left alone here"


def test_a_value_that_is_not_a_plain_label_value_never_changes_the_query():
    evil = dict(VALUES, version='1" or vector(1) or "', service="a'b\\\n")
    filled = fill_query('x{version="{version}"} and on() y{s=\'{service}\'} + {version}', evil)
    assert filled == ('x{version="1\\" or vector(1) or \\""} and on() y{s=\'a\\\'b\\\\\\n\'} + '
                      '"1\\" or vector(1) or \\""')
    # an escape before a placeholder in a string stays an escape: \{version} is never filled in
    assert fill_query('x{v="\\{version}"}', evil) == 'x{v="\\{version}"}'


@pytest.mark.parametrize("query,why", [
    ("up{job=`{service}`}", "raw"), ("up{job={services}}", "unknown placeholder {services}"),
    ('up{job="{service}}', "unterminated"),
])
def test_queries_that_cannot_be_filled_safely_are_refused(query, why):
    with pytest.raises(QueryError, match=why):
        check_query(query)


def test_braces_of_regexes_and_strings_are_not_placeholders():
    assert check_query('up{code=~"5{2}[0-9]{1}", x="{job}"} # {nothing}') == ()
    assert check_query('a{s="{service}"} / b{v="{version}", s="{service}"}') == ("service", "version")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=40))
def test_any_value_round_trips_through_a_string_literal(value):
    assert unquote(quote(value)) == value


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list('ab"\'\\{}()=~ \n`#.*') + ["{version}", " or ", "vector(1)"]), max_size=20))
def test_whatever_the_version_the_query_keeps_its_strings_and_their_values(pieces):
    version = "".join(pieces)
    filled = fill_query('x{version="{version}", v=~"{version}"} + {version}', dict(VALUES, version=version))
    literals = strings_of(filled)
    assert len(literals) == 3  # no string was opened or closed by the value
    assert unquote(literals[0]) == version and unquote(literals[2]) == version
    assert filled.startswith('x{version="') and '"} + "' in filled


@pytest.mark.parametrize("text,values", [
    ("< 0.05", {0.01: True, 0.05: False, 1: False}), (">= 0.95 and <= 1", {0.95: True, 1.2: False, 0.5: False}),
    ("result[0] == 0", {0: True, 1: False}), ("result != 3", {3: False, float("inf"): True}),
    ("> -1e3", {-999: True, -1001: False}),
])
def test_conditions(text, values):
    condition = parse_condition(text)
    assert {value: condition.holds(value) for value in values} == values
    assert not condition.holds(float("nan")) or text.startswith("result !=")


@pytest.mark.parametrize("text", ["", "<", "0.05", "< x", "< 1 or > 2", "__import__('os')", "< nan", "<< 1", 5])
def test_what_is_not_a_condition_says_what_one_looks_like(text):
    with pytest.raises(ConditionError, match="condition"):
        parse_condition(text)
