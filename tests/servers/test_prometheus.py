from __future__ import annotations

import time

import pytest

from tests.servers.process import ConfigRejected
from tests.servers.prometheus import check_config, check_rules, default_config

RULES = """groups:
  - name: orders
    rules:
      - alert: OrdersErrors
        expr: orders_errors_total > 0
        for: 0s
        labels: {service: orders}
"""


def test_prometheus_scrapes_a_metrics_endpoint_and_an_instant_query_returns_the_value(monitoring):
    started = time.monotonic()
    monitoring.endpoint.set("orders_errors_total", 3, service="orders", code="500")
    [found] = monitoring.prometheus.wait_for('orders_errors_total{job="app",service="orders"}')
    assert found["value"][1] == "3" and found["metric"]["code"] == "500"
    monitoring.endpoint.set("orders_errors_total", 5, service="orders", code="500")  # the next scrape sees it
    monitoring.prometheus.wait_for('orders_errors_total{job="app",service="orders"} == 5')
    assert time.monotonic() - started < 15  # scraped every second: no wait for discovery
    assert [(t["labels"]["job"], t["health"]) for t in monitoring.prometheus.targets()] == [("app", "up")]


def test_prometheus_reloads_new_rules_and_refuses_a_bad_config(prometheus):
    server = prometheus()
    assert server.api("rules")["groups"] == []
    server.write("rules/orders.yml", RULES)
    server.reload()
    [group] = server.api("rules")["groups"]
    assert group["name"] == "orders" and group["rules"][0]["name"] == "OrdersErrors"

    server.config.write_text(server.config.read_text().replace('"1s"', '"soon"', 1))
    with pytest.raises(ConfigRejected, match="soon"):
        server.reload()
    assert server.api("rules")["groups"][0]["name"] == "orders"  # still the old config


def test_promtool_checks_a_config_and_rules_a_test_generates(prometheus, tmp_path):
    rules = tmp_path / "orders.yml"
    rules.write_text(RULES)
    assert check_rules(rules).ok
    rules.write_text(RULES.replace("orders_errors_total > 0", "orders_errors_total >"))
    checked = check_rules(rules)
    assert not checked.ok and "orders.yml" in checked.output

    config = tmp_path / "prometheus.yml"
    config.write_text(default_config(tmp_path))
    assert check_config(config).ok, check_config(config).output
    config.write_text(default_config(tmp_path, interval="soon"))
    checked = check_config(config)
    assert not checked.ok and "soon" in checked.output
