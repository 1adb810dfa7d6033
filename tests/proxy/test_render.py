"""`meta proxy render`: golden files, the proxies' own checkers, and values that must never become config syntax."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metarepo.errors import ManifestError, UsageError
from metarepo.manifest import load_manifest
from metarepo.proxy.render import render_edge
from metarepo.templating.escape import haproxy_word, nginx_string

from tests.conftest import run_meta
from tests.servers import haproxy as haproxy_server
from tests.servers import nginx as nginx_server
from tests.servers.fixtures import require

from .fleet import STAGING, write_meta

GOLDEN = Path(__file__).parent / "golden"
FILES = {"haproxy": "staging.haproxy.cfg", "nginx": "staging.nginx.conf", "traefik": "staging.traefik.yml"}
CHECKERS = {"haproxy": haproxy_server.PACKAGES, "nginx": nginx_server.PACKAGES}


@pytest.mark.parametrize("format", sorted(FILES))
def test_the_fleet_renders_the_golden_file_checked_by_the_proxy(tmp_path: Path, format: str) -> None:
    if format in CHECKERS:
        require(CHECKERS[format], format)
    edge = render_edge(load_manifest(write_meta(tmp_path)), "staging", format)
    golden = GOLDEN / FILES[format]
    if os.environ.get("META_UPDATE_GOLDEN"):
        golden.write_text(edge.text)
    assert edge.text == golden.read_text(), f"regenerate with META_UPDATE_GOLDEN=1 and review {golden}"
    assert edge.validated_by and edge.validated_by.startswith({"haproxy": "haproxy -c", "nginx": "nginx -t",
                                                              "traefik": "a YAML"}[format])
    assert [r.service for r in edge.routes] == ["orders", "billing", "web"]


def test_the_most_specific_route_is_tried_first_by_haproxy(tmp_path: Path) -> None:
    projects = {"services/any": {"route": {}}, "services/api": {"route": {"path": "/api"}},
                "services/v1": {"route": {"path": "/api/v1"}}, "services/host": {"route": {"hosts": ["a.io"],
                                                                                         "path": "/api"}}}
    text = render_edge(load_manifest(write_meta(tmp_path, projects)), "staging").text
    uses = [line.split()[1] for line in text.splitlines() if line.strip().startswith(("use_backend", "default_b"))]
    assert uses == ["v1", "host", "api", "any"]


def test_the_dialects_quote_every_value_into_one_word() -> None:
    hostile = "a b;c{d}#e"
    assert haproxy_word(hostile) == "'a b;c{d}#e'"
    assert nginx_string('a "b" \\c; {d} #e') == '"a \\"b\\" \\\\c; {d} #e"'
    for bad in ("x\n  bind :1", "x\r", "it's"):
        with pytest.raises(UsageError, match="cannot be written into an HAProxy configuration"):
            haproxy_word(bad)
    for bad in ("x\n}", "$request_uri"):
        with pytest.raises(UsageError, match="cannot be written into an nginx configuration"):
            nginx_string(bad)


OVERRIDE = {
    "haproxy": '{% extends "builtin/proxy/haproxy.cfg.j2" %}\n{% block frontend %}\n'
               '    http-response set-header X-Environment {{ environment }}\n{% endblock %}\n',
    "nginx": '{% extends "builtin/proxy/nginx.conf.j2" %}\n{% block server %}\n'
             '    add_header X-Environment {{ environment }};\n{% endblock %}\n',
}


@pytest.mark.parametrize("format", ["haproxy", "nginx"])
def test_a_hostile_value_in_an_override_is_one_word_for_the_checker(tmp_path: Path, format: str) -> None:
    require(CHECKERS[format], format)
    env = "qa; deny all {#"
    root = write_meta(tmp_path, environments={env: {"proxy": {"kind": format}}})
    (root / "ci-templates" / "proxy").mkdir(parents=True)
    (root / "ci-templates" / "proxy" / {"haproxy": "haproxy.cfg.j2", "nginx": "nginx.conf.j2"}[format]).write_text(
        OVERRIDE[format])
    edge = render_edge(load_manifest(root), env, format)  # accepted by haproxy -c / nginx -t: one quoted word
    assert edge.validated_by
    assert ("'qa; deny all {#'" if format == "haproxy" else '"qa; deny all {#"') in edge.text


@pytest.mark.parametrize("format, env", [("haproxy", "qa\n    bind :9999"), ("haproxy", "qa'x"),
                                         ("nginx", "qa\n}"), ("nginx", "qa$host")])
def test_a_value_that_cannot_be_quoted_is_refused_naming_the_template(tmp_path: Path, format: str, env: str) -> None:
    root = write_meta(tmp_path, environments={env: {"proxy": {"kind": format}}})
    (root / "ci-templates" / "proxy").mkdir(parents=True)
    name = {"haproxy": "haproxy.cfg.j2", "nginx": "nginx.conf.j2"}[format]
    (root / "ci-templates" / "proxy" / name).write_text(OVERRIDE[format])
    with pytest.raises(ManifestError, match=rf"ci-templates/proxy/{name}:3: rendering for the .* edge: .*cannot be "
                                            "written into an"):
        render_edge(load_manifest(root), env, format)


def test_a_config_the_checker_refuses_is_not_written_and_names_the_template_line(tmp_path: Path) -> None:
    require(CHECKERS["haproxy"], "haproxy")
    root = write_meta(tmp_path / "meta")
    (root / "ci-templates" / "proxy").mkdir(parents=True)
    (root / "ci-templates" / "proxy" / "haproxy.cfg.j2").write_text(
        '{% extends "builtin/proxy/haproxy.cfg.j2" %}\n{% block defaults %}\n    mode http\n'
        '    timeout connnect 5s\n{% endblock %}\n')
    out = tmp_path / "haproxy.cfg"
    proc = run_meta("proxy", "render", "staging", "-o", str(out), cwd=root)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"meta: {root}/ci-templates/proxy/haproxy.cfg.j2:4: rendered for "
                                                   "the staging edge (haproxy), line "), lines
    assert "haproxy says:" in lines[0] and "connnect" in lines[0] and not out.exists()


def test_docker_flow_proxy_has_no_file_of_its_own(tmp_path: Path) -> None:
    root = write_meta(tmp_path, environments={"staging": {"proxy": {"kind": "docker-flow-proxy"}}})
    proc = run_meta("proxy", "render", "staging", cwd=root)
    assert proc.returncode == 2 and "configures itself from the services' labels" in proc.stderr
    proc = run_meta("proxy", "render", "staging", "--format", "traefik", cwd=root)
    assert proc.returncode == 0 and "rule:" in proc.stdout


def test_an_environment_without_a_proxy_says_what_to_add(tmp_path: Path) -> None:
    root = write_meta(tmp_path, environments={"staging": {"target": "swarm"}})
    proc = run_meta("proxy", "render", "staging", cwd=root)
    assert proc.returncode == 2
    assert proc.stderr.startswith("meta: metarepo.environments.staging.proxy: names no proxy (add")


def test_render_writes_the_file_and_says_what_checked_it(tmp_path: Path) -> None:
    require(CHECKERS["haproxy"], "haproxy")
    root = write_meta(tmp_path / "meta", environments={"staging": STAGING})
    out = tmp_path / "edge" / "haproxy.cfg"
    out.parent.mkdir()
    proc = run_meta("proxy", "render", "staging", "-o", str(out), cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and "3 route(s) → " in proc.stderr and "checked by haproxy -c" in proc.stderr
    assert out.read_text() == render_edge(load_manifest(root), "staging").text
