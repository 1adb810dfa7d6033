"""A meta repo's own ci-templates/ cannot run code on the machine of whoever runs `meta ci`."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import FILES, SERVICES

ATTACK = ('{{% extends "builtin/github/cd.yml.j2" %}}\n{{% block test %}}\n'
          "  test: {{{{ cycler.__init__.__globals__.os.system({command!r}) }}}}\n{{% endblock %}}\n")


@pytest.mark.parametrize("command", [("ci", "generate"), ("ci", "check"), ("ci", "diff"),
                                     ("ci", "generate", "--branch", "ci-fix")])
def test_an_escape_from_the_sandbox_is_one_line_and_nothing_runs_or_is_written(meta, ws: Path, tmp_path: Path,
                                                                                 command) -> None:
    marker = tmp_path / "pwned"
    template = ws / "ci-templates" / "github" / "cd.yml.j2"
    template.parent.mkdir(parents=True)
    template.write_text(ATTACK.format(command=f"touch {marker}"))
    proc = meta(*command, cwd=ws)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"meta: {template}:3: refused while rendering for services/orders: access to attribute '__init__' of "
        "the class Cycler is unsafe (templates render in a sandbox: values, filters and tests only, no Python "
        "internals)"]
    assert not marker.exists()
    for service in SERVICES:
        for path in FILES.values():
            assert not (ws / "services" / service / path).exists(), path
