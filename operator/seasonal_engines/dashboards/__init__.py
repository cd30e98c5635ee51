"""Grafana dashboards and Prometheus alert rules for Seasonal Engines, built in code.

Dashboards are assembled with grafana-foundation-sdk (``service_dashboard``: one InferenceService;
``fleet_dashboard``: all of them and the operator), from PromQL kept in ``queries``; ``alert_rules`` holds
the alerting rules. ``python -m seasonal_engines.dashboards`` writes them (and a copy of the CRD) into
``charts/seasonal-engines``; tests check the committed files are current and run every query against a
real Prometheus. Development tooling: the operator itself never imports this package.
"""
