from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.backends import http_backend
from tests.servers.process import ConfigRejected, children, free_port
from tests.servers.web import call


def proxy_block(port: int, backend: str) -> str:
    return f"server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://{backend}; }} }}"


def test_nginx_proxies_to_a_backend_and_a_reload_changes_the_route(nginx):
    port = free_port()
    with http_backend("one\n") as one, http_backend("two\n") as two:
        web = nginx(proxy_block(port, one.address))
        assert call(f"http://127.0.0.1:{port}/orders").text == "one\n"
        assert one.paths == ["/orders"]
        workers = children(web.pid)

        web.reload(proxy_block(port, two.address))
        assert call(f"http://127.0.0.1:{port}/orders").text == "two\n"
        assert children(web.pid) and workers.isdisjoint(children(web.pid))
        assert "GET /orders" in web.access_log.read_text()


def test_nginx_refuses_a_bad_config_and_keeps_serving_the_old_one(nginx):
    port = free_port()
    with http_backend("one\n") as one:
        web = nginx(proxy_block(port, one.address))
        bad = proxy_block(port, one.address) + "\nno_such_directive on;"
        checked = web.check(bad)
        assert not checked.ok and 'unknown directive "no_such_directive"' in checked.output
        with pytest.raises(ConfigRejected, match="no_such_directive"):
            web.reload(bad)
        assert call(f"http://127.0.0.1:{port}/").text == "one\n"


def test_nginx_keeps_its_files_in_its_own_prefix(nginx):
    port = free_port()
    with http_backend("x" * 200_000) as big:  # larger than the proxy buffers: nginx spills it to proxy_temp_path
        web = nginx(proxy_block(port, big.address) .replace("proxy_pass", "proxy_max_temp_file_size 1m; proxy_pass"))
        assert len(call(f"http://127.0.0.1:{port}/").body) == 200_000
    for path in [web.error_log, web.access_log, web.base / "nginx.pid", web.base / "tmp" / "proxy"]:
        assert path.exists(), path
    assert Path(web.base).is_relative_to("/tmp")
