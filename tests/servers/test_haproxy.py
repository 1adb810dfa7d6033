from __future__ import annotations

import pytest

from tests.servers.backends import http_backend
from tests.servers.process import ConfigRejected, free_port
from tests.servers.web import call


def proxy_config(port: int, backend: str) -> str:
    return (f"defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n"
            f"frontend edge\n    bind 127.0.0.1:{port}\n    default_backend app\n"
            f"backend app\n    server s1 {backend}\n")


def test_haproxy_proxies_to_a_backend_and_a_reload_changes_the_route(haproxy):
    port = free_port()
    with http_backend("one\n") as one, http_backend("two\n") as two:
        proxy = haproxy(proxy_config(port, one.address))
        assert call(f"http://127.0.0.1:{port}/orders").text == "one\n"
        assert one.paths == ["/orders"]

        old_worker = proxy.state().workers
        proxy.reload(proxy_config(port, two.address))
        assert call(f"http://127.0.0.1:{port}/orders").text == "two\n"
        assert proxy.state().workers != old_worker and proxy.state().reloads == 1


def test_haproxy_refuses_a_bad_config_and_keeps_serving_the_old_one(haproxy):
    port = free_port()
    with http_backend("one\n") as one:
        proxy = haproxy(proxy_config(port, one.address))
        bad = proxy_config(port, one.address) + "    no-such-keyword here\n"
        checked = proxy.check(bad)
        assert not checked.ok and "unknown keyword 'no-such-keyword'" in checked.output
        with pytest.raises(ConfigRejected, match="no-such-keyword"):
            proxy.reload(bad)
        assert call(f"http://127.0.0.1:{port}/").text == "one\n"
        assert proxy.check(proxy_config(port, one.address)).ok
