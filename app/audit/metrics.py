"""Metrics of the audit sink (exported at the worker's ``/metrics`` with the others)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

AUDIT_LAG = Gauge(
    "at_stream_audit_lag_records",
    "Records of each partition not yet durable in the audit store (end offset - the "
    "sink's committed offset).",
    ["topic", "partition"],
)
AUDIT_WRITTEN = Counter(
    "at_stream_audit_records_written_total",
    "Records of batches the audit sink committed, by topic (redelivered ones included).",
    ["topic"],
)
AUDIT_REDELIVERED = Counter(
    "at_stream_audit_records_redelivered_total",
    "Records the store already held (delivered again after a crash or a rebalance): ignored.",
)
AUDIT_WRITE_ERRORS = Counter(
    "at_stream_audit_write_errors_total",
    "Batch writes the audit store refused or did not answer (each retried, offsets held).",
)
AUDIT_DB_UP = Gauge(
    "at_stream_audit_store_up",
    "1 if the audit store answered the sink's last operation (a batch, or its probe every "
    "2 s); 0 while it does not (or the sink is off: see at_stream_audit_sink_enabled).",
)
AUDIT_SINK_ENABLED = Gauge(
    "at_stream_audit_sink_enabled", "1 if this worker runs the audit sink (AT_STREAM_AUDIT_SINK)."
)
AUDIT_BATCH = Histogram(
    "at_stream_audit_batch_seconds",
    "Time to store one batch (its transaction committed).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
AUDIT_RETENTION_DELETED = Counter(
    "at_stream_audit_retention_deleted_total", "Audit records deleted by the retention job."
)
