"""Real Prometheus for tests: a thin re-export of ``adapters.local_prometheus``.

``start_prometheus(workdir, openmetrics_text=None, scrape_targets=(), scrape_interval="1s")``
backfills, starts on a free loopback port and waits for ``/-/ready``;
``instant_query`` and ``wait_for_series`` are small query helpers for assertions.
"""

from seasonal_engines.adapters.local_prometheus import (
    PrometheusServer,
    backfill_openmetrics,
    find_binaries,
    instant_query,
    start_prometheus,
    wait_for_series,
)

__all__ = [
    "PrometheusServer",
    "backfill_openmetrics",
    "find_binaries",
    "instant_query",
    "start_prometheus",
    "wait_for_series",
]
