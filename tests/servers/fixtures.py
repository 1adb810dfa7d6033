"""The real servers as pytest fixtures, for every test (tests/conftest.py registers this plugin).

Servers a test configures are factories, function-scoped: each call starts
one more instance with that test's config, and every instance is stopped
by its pid when the test ends, pass or fail.

- ``haproxy(config) -> HAProxy`` (tests/servers/haproxy.py)
- ``nginx(http, main="") -> Nginx`` (tests/servers/nginx.py)
- ``prometheus(config=None, *, files=None, interval="1s", alertmanager=None) -> Prometheus``
  (tests/servers/prometheus.py; promtool's checks are its functions)
- ``alertmanager(config=None) -> Alertmanager`` (tests/servers/alertmanager.py)

Servers one instance of which serves every test are session-scoped (tests
tell their own data apart by names or labels of their own):

- ``rsyslog -> Syslog``: syslog over UDP and TCP on one 127.0.0.1 port,
  every message in one file (tests/servers/rsyslog.py)
- ``monitoring -> Monitoring``: a Prometheus already scraping a metrics
  endpoint whose values tests set, and already sending alerts to an
  Alertmanager (tests/servers/monitoring.py: Prometheus takes some 5 s to
  use a new target or Alertmanager; this pays it once)
- ``rabbitmq -> RabbitMQ``: a broker with its management API, a user and a
  password of its own (tests/servers/rabbitmq.py; 10-15 s to start)

The last two are started in the background as soon as collection shows a
test that will need them, while the other tests run.

A server that is not installed skips the tests that need it, naming the
package to install; under ``CI=true`` it fails them instead.
"""

from __future__ import annotations

import contextlib
import os

import pytest

from tests.servers import alertmanager as alertmanager_server
from tests.servers import haproxy as haproxy_server
from tests.servers import monitoring as monitoring_server
from tests.servers import nginx as nginx_server
from tests.servers import prometheus as prometheus_server
from tests.servers import rabbitmq as rabbitmq_server
from tests.servers import rsyslog as rsyslog_server
from tests.servers.early import EarlyStart
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


@pytest.fixture
def prometheus():
    """Start Prometheus: ``server = prometheus()`` (its own config) or ``prometheus(text)``; stopped at the end."""
    require(prometheus_server.PACKAGES, "prometheus")
    with contextlib.ExitStack() as started:
        yield lambda config=None, **options: started.enter_context(
            prometheus_server.running_prometheus(config, **options))


@pytest.fixture
def alertmanager():
    """Start Alertmanager: ``server = alertmanager()`` (a null receiver) or ``alertmanager(text)``."""
    require(alertmanager_server.PACKAGES, "alertmanager")
    with contextlib.ExitStack() as started:
        yield lambda config=None: started.enter_context(alertmanager_server.running_alertmanager(config))


@pytest.fixture(scope="session")
def rsyslog():
    """rsyslogd receiving syslog on 127.0.0.1 (UDP and TCP, one port), for the whole session."""
    require(rsyslog_server.PACKAGES, "rsyslog")
    with rsyslog_server.running_rsyslog() as started:
        yield started


# The slow session servers, started early: fixture name -> (the binaries they need, how to start them).
MONITORING_PACKAGES = {**prometheus_server.PACKAGES, **alertmanager_server.PACKAGES}
EARLY = {
    "monitoring": (MONITORING_PACKAGES, monitoring_server.running_monitoring),
    "rabbitmq": (rabbitmq_server.PACKAGES, rabbitmq_server.running_rabbitmq),
}
_STARTED = pytest.StashKey[dict]()


@pytest.hookimpl(trylast=True)  # after -k, -m and the others have deselected what will not run
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.option.collectonly:
        return
    wanted = {name for item in items for name in getattr(item, "fixturenames", ()) if name in EARLY}
    for name in sorted(wanted):
        if not missing(EARLY[name][0]):
            _start(config, name)


def _start(config: pytest.Config, name: str) -> EarlyStart:
    started = config.stash.setdefault(_STARTED, {})
    if name not in started:
        started[name] = EarlyStart(EARLY[name][1])
        config.add_cleanup(started[name].close)  # stopped even when no test got as far as asking for it
    return started[name]


def _started_early(config: pytest.Config, name: str):
    require(EARLY[name][0], name)
    early = _start(config, name)  # already under way, unless asked for without collection seeing it
    yield early.result()
    early.close()


@pytest.fixture(scope="session")
def monitoring(pytestconfig: pytest.Config):
    """Prometheus scraping an endpoint whose samples tests set, and alerting an Alertmanager (labels of your own)."""
    yield from _started_early(pytestconfig, "monitoring")


@pytest.fixture(scope="session")
def rabbitmq(pytestconfig: pytest.Config):
    """A RabbitMQ node with the management plugin on free 127.0.0.1 ports, for the whole session."""
    yield from _started_early(pytestconfig, "rabbitmq")
