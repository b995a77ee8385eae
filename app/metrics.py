"""Prometheus metrics, served at ``/metrics`` by the worker."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBHOOK_REQUESTS = Counter(
    "at_stream_webhook_requests_total", "Webhook requests by outcome.", ["outcome"]
)
WEBHOOK_LATENCY = Histogram(
    "at_stream_webhook_seconds",
    "Webhook handling time, broker ack included.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0),
)
WEBHOOK_LATE_WRITES = Counter(
    "at_stream_webhook_late_writes_total",
    "Signals answered 503 (deadline passed) that the broker acknowledged afterwards; each "
    "outcome is recorded, so a retry with the same delivery identity gets the original 202.",
)
WEBHOOK_IN_FLIGHT = Gauge("at_stream_webhook_in_flight", "Webhook requests being handled.")
EVENTS_EMITTED = Counter("at_stream_events_emitted_total", "Records produced by agents.", ["topic"])
DEAD_LETTERS = Counter(
    "at_stream_dead_letters_total", "Records sent to the dead-letter topic.", ["source"]
)
EVENTS_APPLIED = Counter(
    "at_stream_events_applied_total", "Table updates applied by agents.", ["table"]
)
DUPLICATES = Counter(
    "at_stream_duplicates_skipped_total", "Records skipped as already applied.", ["topic"]
)
UNKNOWN_FIELDS = Counter(
    "at_stream_webhook_unknown_fields_total",
    "Unknown fields accepted from lenient providers, by field name.",
    ["provider", "field"],
)
