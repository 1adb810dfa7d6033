"""The real servers as pytest fixtures, for every test (tests/conftest.py registers this plugin).

Servers a test configures are factories, function-scoped: each call starts
one more instance with that test's config, and every instance is stopped
by its pid when the test ends, pass or fail.

- ``haproxy(config) -> HAProxy`` (tests/servers/haproxy.py)
- ``nginx(http, main="") -> Nginx`` (tests/servers/nginx.py)

Servers one instance of which serves every test are session-scoped (tests
tell their own data apart by names or labels of their own):

- ``rsyslog -> Syslog``: syslog over UDP and TCP on one 127.0.0.1 port,
  every message in one file (tests/servers/rsyslog.py)

A server that is not installed skips the tests that need it, naming the
package to install; under ``CI=true`` it fails them instead.
"""

from __future__ import annotations

import contextlib
import os

import pytest

from tests.servers import haproxy as haproxy_server
from tests.servers import nginx as nginx_server
from tests.servers import rsyslog as rsyslog_server
from tests.servers.process import missing


def require(packages: dict[str, str], what: str) -> None:
    """Skip (fail, under CI=true) the test when one of ``packages``' binaries is not installed."""
    why = missing(packages)
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the {what} tests cannot run: {why}")
        pytest.skip(f"no {what} for these tests: {why}")


@pytest.fixture
def haproxy():
    """Start HAProxy with a config: ``proxy = haproxy(text)``; each is stopped when the test ends."""
    require(haproxy_server.PACKAGES, "haproxy")
    with contextlib.ExitStack() as started:
        yield lambda config: started.enter_context(haproxy_server.running_haproxy(config))


@pytest.fixture
def nginx():
    """Start nginx with the text of its ``http {}`` block: ``web = nginx(text)``; stopped when the test ends."""
    require(nginx_server.PACKAGES, "nginx")
    with contextlib.ExitStack() as started:
        yield lambda http, main="": started.enter_context(nginx_server.running_nginx(http, main))



@pytest.fixture(scope="session")
def rsyslog():
    """rsyslogd receiving syslog on 127.0.0.1 (UDP and TCP, one port), for the whole session."""
    require(rsyslog_server.PACKAGES, "rsyslog")
    with rsyslog_server.running_rsyslog() as started:
        yield started
