"""Every `meta ...` line a generated pipeline runs is a command line the real `meta` accepts.

The pipelines call meta themselves (the setup's `update`, the contract gate,
the rollouts), each on the meta repo the job cloned (`-C "$META_ROOT"`); a
renamed option or argument would only show up on the CI server. Each
command line is parsed by the real click commands, without running them.
"""

from __future__ import annotations

import re
import shlex

import click
import pytest

from metarepo.ci import PROVIDERS
from metarepo.ci.jenkins import _string
from metarepo.ci.render import render_pipeline
from metarepo.templating.readback import parse_yaml

from .test_render import values

# Commands another issue may still be adding; once they exist they are checked too.
PENDING: set[str] = set()


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def meta_command_lines(provider: str, text: str) -> list[list[str]]:
    if provider == "jenkins":
        scripts = [_string_literal(m.group(1))
                   for m in re.finditer(r"\bsh ('\'\'[\s\S]*?\'\'\'|'(?:[^'\\]|\\.)*')", text)]
    else:
        scripts = list(_strings(parse_yaml(text)))
    found = []
    for script in scripts:
        for line in script.splitlines():
            for part in re.split(r"&&|\|\||;|\|", line):
                if part.strip().startswith("meta "):
                    found.append(shlex.split(part.strip())[1:])
    return found


def _string_literal(source: str) -> str:
    import tree_sitter
    import tree_sitter_groovy

    tree = tree_sitter.Parser(tree_sitter.Language(tree_sitter_groovy.language())).parse(f"x = {source}\n".encode())
    statement = tree.root_node.named_children[0]
    node = statement.named_children[0] if statement.type == "expression_statement" else statement
    return _string(node.named_children[-1])


def parse_with_the_real_cli(argv: list[str]) -> click.Context | None:
    """The click context `meta ARGV` would run with, or None for a PENDING command; raises when it does not parse."""
    from metarepo.cli.main import cli

    command: click.Command = cli
    while isinstance(command, click.Group):
        name, argv = argv[0], argv[1:]
        found = command.get_command(click.Context(command), name)
        if found is None and name in PENDING:
            return None
        assert found is not None, f"`meta {name}` is not a command"
        command = found
    return command.make_context(command.name, list(argv))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_meta_command_a_pipeline_runs_parses(provider: str) -> None:
    from metarepo.cli.main import cli

    text = render_pipeline(None, values(provider)).files[0].text
    lines = meta_command_lines(provider, text)
    assert lines and all(words[:2] == ["-C", "$META_ROOT"] for words in lines), lines  # the meta repo the job cloned
    assert "-C" in [opt for param in cli.params for opt in param.opts]
    lines = [words[2:] for words in lines]
    assert [words[:2] for words in lines if words[0] == "contracts"] == [["contracts", "can-i-deploy"]] * 2
    assert ["update"] in lines and [w[:2] for w in lines if w[0] == "rollout"] == [["rollout", "staging"],
                                                                                  ["rollout", "production"]]
    for words in lines:
        try:
            ctx = parse_with_the_real_cli(words)
        except click.UsageError as exc:
            pytest.fail(f"{provider}: `meta {' '.join(words)}` does not parse: {exc.format_message()}")
        if ctx is not None and ctx.command.name == "can-i-deploy":
            assert ctx.params["service"] == "$META_PROJECT" and ctx.params["env"] in ("staging", "production")


def test_the_contract_gate_comes_before_each_environment() -> None:
    text = render_pipeline(None, values("github")).files[0].text
    jobs = parse_yaml(text)["jobs"]
    gate = 'meta -C "$META_ROOT" contracts can-i-deploy "$META_PROJECT" --to '
    assert jobs["contracts"]["steps"][-1]["run"] == gate + "staging"
    runs = [step.get("run", "") for step in jobs["deploy-production"]["steps"]]
    assert runs.index(gate + "production") < next(n for n, run in enumerate(runs)
                                                   if run.startswith('meta -C "$META_ROOT" rollout production'))
