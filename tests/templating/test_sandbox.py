"""Templates from a cloned meta repo render in the sandbox: no way out to Python, the disk or the memory.

Each attack would run a command (or read a file from elsewhere) outside a
sandbox; here it must end in one ``ManifestError`` naming the template file
and line, and the command must not have run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metarepo.errors import ManifestError
from metarepo.templating.escape import Dialect
from metarepo.templating.render import render_template

TEMPLATE = "evil/file.yml.j2"


def touch(marker: Path) -> str:
    """A shell command, as a Jinja string literal, that creates ``marker`` (the proof that code ran)."""
    return repr(f"touch {marker}")


ATTACKS = {
    "cycler globals": "{{{{ cycler.__init__.__globals__.os.popen({cmd}).read() }}}}",
    "joiner globals": "{{{{ joiner.__init__.__globals__.os.system({cmd}) }}}}",
    "namespace globals": "{{{{ namespace.__init__.__globals__.os.system({cmd}) }}}}",
    "lipsum globals": "{{{{ lipsum.__globals__['os'].system({cmd}) }}}}",
    "subclasses": "{{% for c in ''.__class__.__mro__[1].__subclasses__() %}}{{% if c.__name__ == 'Popen' %}}"
                  "{{{{ c({cmd}, shell=True) }}}}{{% endif %}}{{% endfor %}}",
    "attr filter": "{{{{ (cycler|attr('__init__')|attr('__globals__'))['os'].system({cmd}) }}}}",
    "format string": "{{{{ '{{0.__init__.__globals__[os].system}}'.format(cycler) }}}}{{{{ {cmd} }}}}",
    "template reference": "{{{{ self._TemplateReference__context.cycler.__init__.__globals__.os.system({cmd}) }}}}",
    "a value's method": "{{{{ project.__class__.__mro__[1].__subclasses__() }}}}{{{{ {cmd} }}}}",
}


def write(root: Path, text: str, name: str = TEMPLATE) -> Path:
    path = root / "ci-templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_escape_attempt_is_refused_naming_the_template(tmp_path: Path, attack: str) -> None:
    marker = tmp_path / "pwned"
    path = write(tmp_path, "name: ok\n" + ATTACKS[attack].format(cmd=touch(marker)) + "\n")
    with pytest.raises(ManifestError) as caught:
        render_template(tmp_path, TEMPLATE, Dialect.YAML, {"project": "services/orders"}, "services/orders")
    message = str(caught.value)
    assert message.startswith(f"{path}:2: ") and "\n" not in message, message
    assert "sandbox" in message
    assert not marker.exists()


def test_values_filters_and_loops_still_work(tmp_path: Path) -> None:
    write(tmp_path, "{% for k, v in labels.items() | sort %}{{ k | verbatim }}: {{ v }}\n{% endfor %}"
                    "n: {{ range(3) | list | length }}\nx: {{ 'ab' * 2 }}\n{% set ns = namespace(n=1) %}"
                    "{% set ns.n = ns.n + 1 %}m: {{ ns.n }}\n")
    text = render_template(tmp_path, TEMPLATE, Dialect.YAML, {"labels": {"b": "2", "a": "1"}}, "x")
    assert text == 'a: "1"\nb: "2"\nn: 3\nx: "abab"\nm: 2\n'


@pytest.mark.parametrize("expression", ["[].append(1)", "labels.update(a=1)", "labels.pop('a')"])
def test_values_cannot_be_changed(tmp_path: Path, expression: str) -> None:
    write(tmp_path, f"{{{{ {expression} }}}}\n")
    with pytest.raises(ManifestError, match="sandbox"):
        render_template(tmp_path, TEMPLATE, Dialect.YAML, {"labels": {"a": "1"}}, "x")


@pytest.mark.parametrize("expression", ["'x' * 100000000", "[1] * 100000000", "100000000 * 'x'", "2 ** 100000000",
                                        "range(100000000) | list"])
def test_one_expression_cannot_fill_the_memory(tmp_path: Path, expression: str) -> None:
    write(tmp_path, f"v: {{{{ {expression} }}}}\n")
    with pytest.raises(ManifestError, match=rf"{TEMPLATE}:1: .*(sandbox|range too big)"):
        render_template(tmp_path, TEMPLATE, Dialect.YAML, {}, "x")


@pytest.mark.parametrize(("expression", "error"), [("1 / 0", "ZeroDivisionError"), ("'a' + 1", "TypeError"),
                                                   ("{}['x']['y']", "has no attribute 'x'")])
def test_a_python_error_in_a_template_is_one_line_naming_it(tmp_path: Path, expression: str, error: str) -> None:
    write(tmp_path, f"a: 1\nv: {{{{ {expression} }}}}\n")
    with pytest.raises(ManifestError, match=rf"{TEMPLATE}:2: rendering for x: .*{error}"):
        render_template(tmp_path, TEMPLATE, Dialect.YAML, {}, "x")


def test_numbers_multiply_as_usual(tmp_path: Path) -> None:
    write(tmp_path, "v: {{ 1000000 * 1000000 }} {{ 2 ** 64 }} {{ 1.5 ** 2 }}\n")
    assert render_template(tmp_path, TEMPLATE, Dialect.YAML, {}, "x") == "v: 1000000000000 18446744073709551616 2.25\n"


def test_a_symlink_cannot_bring_in_a_file_from_elsewhere(tmp_path: Path) -> None:
    secret = tmp_path / "home" / ".ssh" / "id_ed25519"
    secret.parent.mkdir(parents=True)
    secret.write_text("PRIVATE KEY\n")
    root = tmp_path / "meta"
    write(root, 'key: {% include "evil/key" %}\n')
    os.symlink(os.path.relpath(secret, root / "ci-templates" / "evil"), root / "ci-templates" / "evil" / "key")
    with pytest.raises(ManifestError) as caught:
        render_template(root, TEMPLATE, Dialect.YAML, {}, "x")
    assert "leads outside" in str(caught.value) and "PRIVATE KEY" not in str(caught.value)
    os.symlink(secret, root / "ci-templates" / "evil" / "whole.yml.j2")  # a template that is itself a link
    with pytest.raises(ManifestError, match="leads outside"):
        render_template(root, "evil/whole.yml.j2", Dialect.YAML, {}, "x")


def test_a_symlink_inside_the_folder_is_fine(tmp_path: Path) -> None:
    write(tmp_path, "v: {{ 1 }}\n", "evil/real.yml.j2")
    os.symlink("real.yml.j2", tmp_path / "ci-templates" / "evil" / "file.yml.j2")
    assert render_template(tmp_path, TEMPLATE, Dialect.YAML, {}, "x") == "v: 1\n"


def test_a_template_folder_that_leads_outside_the_meta_repo_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere, "v: 1\n")
    root = tmp_path / "meta"
    root.mkdir()
    (root / "ci-templates").symlink_to(elsewhere / "ci-templates")
    with pytest.raises(ManifestError, match=r"ci-templates: leads outside the meta repo"):
        render_template(root, TEMPLATE, Dialect.YAML, {}, "x")


def test_loops_that_would_run_for_hours_end_at_the_time_limit(tmp_path: Path, monkeypatch) -> None:
    import time

    from metarepo.templating import deadline

    monkeypatch.setattr(deadline, "RENDER_SECONDS", 0.5)
    write(tmp_path, "a: 1\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n")
    started = time.monotonic()
    with pytest.raises(ManifestError, match=rf"{TEMPLATE}:2: refused while rendering for x: it took longer than 0.5s"):
        render_template(tmp_path, TEMPLATE, Dialect.YAML, {}, "x")
    assert time.monotonic() - started < 5
    # the limit is per render: the next one is not cut short by a timer left over
    write(tmp_path, "v: {{ 1 + 1 }}\n")
    time.sleep(0.6)
    assert render_template(tmp_path, TEMPLATE, Dialect.YAML, {}, "x") == "v: 2\n"


def test_the_html_dialect_writes_every_value_as_text(tmp_path: Path) -> None:
    write(tmp_path, '<p title="{{ name }}">{{ name }} {{ n }} {{ yes }}</p>\n', "page.html.j2")
    name = "<script>alert('x')</script> & \"quoted\""
    text = render_template(tmp_path, "page.html.j2", Dialect.HTML, {"name": name, "n": 3, "yes": True}, "x")
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;"
    assert text == f'<p title="{escaped}">{escaped} 3 true</p>\n'
