from __future__ import annotations

import time

from tests.servers.alertmanager import NULL_CONFIG, check_config

FIRING = """groups:
  - name: test-orders-errors
    rules:
      - alert: OrdersErrors
        expr: orders_errors_total{job="app", service="orders-rule"} > 0
        for: 0s
        labels: {severity: page}
        annotations: {value: "{{ $value }}"}
"""


def test_an_alert_posted_to_alertmanager_is_active_under_its_labels(alertmanager):
    server = alertmanager()
    server.post({"labels": {"alertname": "OrdersErrors", "service": "orders"},
                 "annotations": {"summary": "orders fails"}})
    [alert] = server.alerts(service="orders")
    assert alert["labels"] == {"alertname": "OrdersErrors", "service": "orders"}
    assert alert["status"]["state"] == "active" and [r["name"] for r in alert["receivers"]] == ["null"]
    assert server.alerts(service="billing") == []


def test_a_rule_that_fires_in_prometheus_is_an_alert_in_alertmanager(monitoring):
    monitoring.endpoint.set("orders_errors_total", 4, service="orders-rule")
    monitoring.add_rules("test-orders-errors", FIRING)
    deadline = time.monotonic() + 30  # scraped and evaluated each second, sent each second while it fires
    while not (found := monitoring.alertmanager.alerts(service="orders-rule")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [alert["labels"]["alertname"] for alert in found] == ["OrdersErrors"]
    assert found[0]["labels"]["severity"] == "page" and found[0]["annotations"] == {"value": "4"}


def test_amtool_checks_a_config(alertmanager, tmp_path):
    config = tmp_path / "alertmanager.yml"
    config.write_text(NULL_CONFIG)
    assert check_config(config).ok
    config.write_text(NULL_CONFIG.replace('receiver: "null"', 'receiver: "nobody"'))
    checked = check_config(config)
    assert not checked.ok and "nobody" in checked.output
