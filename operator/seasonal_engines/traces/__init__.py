"""Per-request LLM traffic traces: reading the public formats, and turning a trace into Prometheus
histogram series (OpenMetrics text for ``promtool tsdb create-blocks-from openmetrics``).

``read_trace(path) -> Trace`` detects the format from the file's header; ``openmetrics`` writes series.
"""

from seasonal_engines.traces.readers import Trace, TraceFormat, read_trace

__all__ = ["Trace", "TraceFormat", "read_trace"]
