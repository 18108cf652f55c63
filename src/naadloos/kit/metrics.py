"""Prometheus metrics, served at `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "naadloos_http_requests_total", "HTTP requests handled", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "naadloos_http_request_duration_seconds",
    "Time to handle an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENTS_DELIVERED = Counter("naadloos_events_delivered_total", "Outbox events delivered", ["event"])
EVENTS_FAILED = Counter(
    "naadloos_events_failed_total", "Outbox event delivery attempts that failed", ["event"]
)
OUTBOX_PENDING = Gauge("naadloos_outbox_pending", "Outbox events not yet delivered")
