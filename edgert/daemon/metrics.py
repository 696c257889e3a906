"""The daemon's Prometheus metrics (``GET /metrics``, text exposition format).

* ``edgert_http_requests_total{route, method, status}``, ``edgert_http_request_duration_seconds``
  (per route template, so ids never become label values)
* ``edgert_classify_duration_seconds{source}`` - the impulse's time per classification
  (``live``, ``sample``, ``ingestion``)
* ``edgert_outbox_depth``, ``edgert_outbox_oldest_age_seconds``, ``edgert_outbox_sent_total``,
  ``edgert_outbox_dead_lettered``, ``edgert_outbox_retries_total`` - the anomaly upload queue,
  read at scrape time
* ``edgert_anomaly_events_total{origin}`` - events queued upstream
* ``edgert_webhook_deliveries_total{outcome}`` (``delivered``/``failed``),
  ``edgert_webhook_failures_total`` (failed attempts), ``edgert_webhook_pending``
* ``edgert_connections_active``, ``edgert_connections_refused_total``,
  ``edgert_http_malformed_requests_total`` - from the connection guard
* ``edgert_info{version, project, impulse}``

Each daemon has its own registry (two in one process, e.g. in tests, do not mix counts).
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

from .._version import __version__
from ..web.app import HttpMetrics


class DaemonMetrics:
    def __init__(self, project: str = "", impulse: str = "") -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram, Info
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http = HttpMetrics(r)
        self.classify_seconds = Histogram(
            "edgert_classify_duration_seconds", "Time the impulse took per classification",
            ["source"], registry=r,
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0))
        self.anomaly_events = Counter("edgert_anomaly_events", "Anomaly events queued "
                                      "upstream", ["origin"], registry=r)
        self.webhook_deliveries = Counter("edgert_webhook_deliveries", "Webhook deliveries "
                                          "finished, by outcome", ["outcome"], registry=r)
        self.webhook_failures = Counter("edgert_webhook_failures", "Webhook attempts that "
                                        "failed (non-2xx, timeout, connection error)",
                                        registry=r)
        Info("edgert", "The daemon and its impulse", registry=r).info(
            {"version": __version__, "project": project, "impulse": impulse})

    def add_state(self, outbox_status: Callable[[], Any], guard: Callable[[], Any],
                  webhook_counts: Callable[[], dict]) -> None:
        """Gauges read when scraped: the outbox, the connection guard, pending webhooks."""
        self.registry.register(_StateCollector(outbox_status, guard, webhook_counts))

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest
        return generate_latest(self.registry)


class _StateCollector:
    def __init__(self, outbox_status: Callable[[], Any], guard: Callable[[], Any],
                 webhook_counts: Callable[[], dict]) -> None:
        self.outbox_status = outbox_status
        self.guard = guard
        self.webhook_counts = webhook_counts

    def describe(self) -> list:
        return []  # read at scrape time only

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        st = self.outbox_status()
        if st is not None:
            yield GaugeMetricFamily("edgert_outbox_depth", "Anomaly events waiting to be "
                                    "uploaded (pending + in flight)", value=st.depth)
            yield GaugeMetricFamily("edgert_outbox_oldest_age_seconds", "Age of the oldest "
                                    "event not uploaded yet", value=st.oldest_age_s or 0.0)
            yield CounterMetricFamily("edgert_outbox_sent", "Events delivered upstream",
                                      value=st.sent)
            yield GaugeMetricFamily("edgert_outbox_dead_lettered", "Events the upstream "
                                    "refused for good", value=st.dead_lettered)
            yield CounterMetricFamily("edgert_outbox_retries", "Upload attempts to retry",
                                      value=st.retries)
        g: Optional[Any] = self.guard()
        if g is not None:
            yield GaugeMetricFamily("edgert_connections_active", "Connections being served",
                                    value=g.active)
            yield CounterMetricFamily("edgert_connections_refused", "Connections answered "
                                      "503 at the connection cap", value=g.refused)
            yield CounterMetricFamily("edgert_http_malformed_requests", "Requests answered "
                                      "400 for malformed HTTP", value=g.malformed)
        counts = self.webhook_counts()
        yield GaugeMetricFamily("edgert_webhook_pending", "Webhook deliveries waiting",
                                value=counts.get("pending", 0))


__all__ = ["DaemonMetrics"]
