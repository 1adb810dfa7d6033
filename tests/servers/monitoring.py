"""A Prometheus already scraping a metrics endpoint and already sending alerts to an Alertmanager.

Prometheus takes some 5 s to use a target or an Alertmanager it was just
given (its discovery hands them over every 5 s); `running_monitoring()`
pays that once, for a session-scoped fixture: it starts an Alertmanager, a
`MetricsEndpoint` and a Prometheus that scrapes the endpoint every second as
job ``app`` and sends alerts to the Alertmanager, and returns once a sample
has been scraped and the Alertmanager is in use. Then a value a test sets
on the endpoint is queryable about a second later, and a rule a test adds
(`Monitoring.add_rules`, some 5 s: the reload makes Prometheus find its
Alertmanager again) fires into it a second or two later.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Iterator

from tests.servers.alertmanager import Alertmanager, running_alertmanager
from tests.servers.backends import MetricsEndpoint, metrics_endpoint
from tests.servers.prometheus import Prometheus, running_prometheus


@dataclass(frozen=True)
class Monitoring:
    prometheus: Prometheus
    alertmanager: Alertmanager
    endpoint: MetricsEndpoint  # scraped as job "app", every second
    job: str = "app"

    def add_rules(self, name: str, text: str, seconds: float = 60) -> None:
        """Load the rule file ``rules/NAME.yml`` (a name of the test's own) into Prometheus.

        A reload makes Prometheus find its Alertmanager again (some 5 s): this returns once it has.
        """
        self.prometheus.write(f"rules/{name}.yml", text)
        self.prometheus.reload()
        _wait_for_alertmanager(self.prometheus, seconds)


@contextlib.contextmanager
def running_monitoring(seconds: float = 60) -> Iterator[Monitoring]:
    with running_alertmanager() as alertmanager, metrics_endpoint() as endpoint, \
            running_prometheus(alertmanager=alertmanager.address) as prometheus:
        endpoint.set("metatest_scraped", 1)
        prometheus.scrape("app", [endpoint.address])
        prometheus.wait_for('metatest_scraped{job="app"}', seconds)
        _wait_for_alertmanager(prometheus, seconds)
        yield Monitoring(prometheus, alertmanager, endpoint)


def _wait_for_alertmanager(prometheus: Prometheus, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not prometheus.api("alertmanagers")["activeAlertmanagers"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"prometheus did not take up its alertmanager in {seconds:g}s")
        time.sleep(0.1)
