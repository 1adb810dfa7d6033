"""Monitoring from the manifest: metrics and SLOs per service, Prometheus' config and rules, rollout analysis.

- ``settings``: ``metrics``/``slo`` per project, ``monitoring``/``analysis``/
  ``alerts``/``inconclusive`` per environment, validated (the API other
  capabilities read them through).
- ``condition`` and ``promql``: conditions such as ``"< 0.05"``, and queries
  filled in with the release's values as string content only.
- ``sources``: Prometheus' and Alertmanager's HTTP APIs, each call timed out.
- ``analysis`` and ``gate``: the rollout gate that measures each service once
  it is live (``images/gates.py`` asks it).
- ``scrape``, ``rules`` and ``render``: ``meta monitor render``'s Prometheus
  config, file_sd targets and alerting rules, validated by promtool.
"""
