"""`meta proxy check`: drift against a file, and against a real HAProxy asked through its runtime API."""

from __future__ import annotations

import json
from pathlib import Path

from metarepo.manifest import load_manifest
from metarepo.proxy.render import render_edge

from tests.conftest import run_meta
from tests.servers.process import free_port
from tests.servers.web import call

from .fleet import PROJECTS, write_meta


def _staging(port: int, **proxy) -> dict:
    return {"staging": {"target": "swarm", "proxy": {"kind": "haproxy", "network": "edge", "address": "127.0.0.1",
                                                     "port": port, "monitor_uri": "/-/up", **proxy}}}


def test_a_file_in_sync_passes_and_an_edited_one_shows_its_diff(tmp_path: Path) -> None:
    root = write_meta(tmp_path / "meta", environments=_staging(8080))
    file = tmp_path / "haproxy.cfg"
    assert run_meta("proxy", "render", "staging", "-o", str(file), cwd=root).returncode == 0
    proc = run_meta("proxy", "check", "staging", "--against", str(file), cwd=root)
    assert proc.returncode == 0 and "routes what the manifest says" in proc.stderr
    file.write_text(file.read_text().replace("'api.acme.io' 'www.acme.io'", "'api.acme.io'"))
    proc = run_meta("proxy", "check", "staging", "--against", str(file), "--json", cwd=root)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert not doc["in_sync"] and "+    acl host_orders req.hdr(host),field(1,:) -i 'api.acme.io' 'www.acme.io'" in \
        doc["diff"]
    proc = run_meta("proxy", "check", "staging", "--against", str(tmp_path / "gone.cfg"), cwd=root)
    assert proc.returncode == 1 and "does not exist" in proc.stdout


def test_a_running_haproxy_is_compared_route_by_route(tmp_path: Path, haproxy) -> None:
    port = free_port()
    root = write_meta(tmp_path / "meta", environments=_staging(port))
    proxy = haproxy(render_edge(load_manifest(root), "staging").text)  # the rendered file, run for real
    assert call(f"http://127.0.0.1:{port}/-/up").status == 200
    socket = str(proxy.stats_socket)
    proc = run_meta("proxy", "check", "staging", "--running", socket, cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    projects = json.loads(json.dumps(PROJECTS))
    projects["services/orders"]["route"]["hosts"] = ["api.acme.io"]  # a host dropped
    projects["services/web"]["port"] = 8081  # another container port
    del projects["services/billing"]["route"]  # unrouted
    projects["services/search"] = {"route": {"path": "/search"}}  # a new route
    write_meta(root, projects, _staging(port, stats_socket=socket))
    proc = run_meta("proxy", "check", "staging", "--json", cwd=root)  # the environment's stats_socket
    assert proc.returncode == 1, proc.stderr
    drift = {d["service"]: (d["kind"], d["detail"]) for d in json.loads(proc.stdout)["drift"]}
    assert drift == {
        "orders": ("changed", "hosts api.acme.io,www.acme.io running, api.acme.io in the manifest"),
        "web": ("changed", "servers tasks.web:80 running, tasks.web:8081 in the manifest"),
        "search": ("missing", "no backend 'search' in the running proxy"),
        "billing": ("extra", "routes to tasks.billing:8080, which no project's route names"),
    }
    proc = run_meta("proxy", "check", "staging", cwd=root)
    assert proc.returncode == 1 and "✗ search: missing: no backend 'search'" in proc.stdout
    assert "differs from the manifest (4 route(s))" in proc.stderr

    proxy.reload(render_edge(load_manifest(root), "staging").text)  # reloaded from the new file: in sync again
    assert run_meta("proxy", "check", "staging", cwd=root).returncode == 0


def test_a_proxy_that_cannot_be_asked_is_one_line(tmp_path: Path) -> None:
    root = write_meta(tmp_path, environments=_staging(8080))
    proc = run_meta("proxy", "check", "staging", "--running", str(tmp_path / "none.sock"), cwd=root)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "cannot ask HAProxy's runtime API at" in proc.stderr
    proc = run_meta("proxy", "check", "staging", cwd=root)
    assert proc.returncode == 2 and "give --against FILE, or --running SOCKET" in proc.stderr
    proc = run_meta("proxy", "check", "staging", "--running", "localhost:9999", cwd=root)
    assert proc.returncode == 2 and "tcp://HOST:PORT" in proc.stderr


def test_the_rendered_nginx_file_runs_in_a_real_nginx(tmp_path: Path, nginx) -> None:
    port = free_port()
    root = write_meta(tmp_path, environments={"staging": {"proxy": {
        "kind": "nginx", "address": "127.0.0.1", "port": port, "monitor_uri": "/-/up"}}})
    server = nginx(render_edge(load_manifest(root), "staging").text)
    reply = call(f"http://127.0.0.1:{port}/-/up")
    assert reply.status == 200 and reply.text == "up\n"
    projects = json.loads(json.dumps(PROJECTS))
    projects["services/search"] = {"route": {"hosts": ["search.acme.io"]}}
    write_meta(root, projects, {"staging": {"proxy": {"kind": "nginx", "address": "127.0.0.1", "port": port}}})
    server.reload(render_edge(load_manifest(root), "staging").text)  # nginx -t, then a real reload
    assert call(f"http://127.0.0.1:{port}/-/up").status != 200  # the new file has no monitor URI
