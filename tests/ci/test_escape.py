"""Escaping: any text survives as exactly one value, in YAML and in Groovy."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from metarepo.templating.escape import circleci_literal, github_literal, groovy_string, yaml_string
from metarepo.ci.jenkins import _parser, _string

NASTY = ["a: b", "it's", 'say "hi"', "x\ny: z", "- item", "#comment", "${{ secrets.TOKEN }}", "<< pipeline.id >>",
         "'; sh 'rm -rf /'; '", "\\u0027", "\u2028", "\x85", "\ud800", "tab\there", "{a: 1}", "*anchor", "&a", "!!python/object"]


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_yaml_string_reads_back_as_exactly_the_text(text: str) -> None:
    assert yaml.safe_load(f"key: {yaml_string(text)}\n") == {"key": text}


def test_yaml_string_nasty_values_stay_one_value() -> None:
    for text in NASTY:
        assert yaml.safe_load(f"- run: {yaml_string(text)}\n- next\n") == [{"run": text}, "next"]


def _groovy_value(source: str):
    tree = _parser().parse(f"x = {source}\n".encode())
    assert not tree.root_node.has_error, source
    statement = tree.root_node.named_children
    assert len(statement) == 1
    node = statement[0].named_children[0] if statement[0].type == "expression_statement" else statement[0]
    literal = node.named_children[-1]
    return _string(literal)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
@settings(max_examples=200, deadline=None)
def test_groovy_string_is_one_literal_with_the_same_text(text: str) -> None:
    assert _groovy_value(groovy_string(text)) == text


def test_groovy_string_nasty_values() -> None:
    for text in NASTY:
        if "\ud800" in text:
            continue
        assert _groovy_value(groovy_string(text)) == text


def test_provider_expansions_are_neutralised() -> None:
    assert github_literal("a ${{ secrets.X }}") == "a ${{ '${{' }} secrets.X }}"
    assert circleci_literal("<< pipeline.git.branch >>") == "\\<< pipeline.git.branch >>"
