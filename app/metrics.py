"""Prometheus metrics, served at ``/metrics`` by the worker."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBHOOK_REQUESTS = Counter(
    "at_stream_webhook_requests_total",
    "Webhook requests by provider (the configured ones, or 'unknown'), scheme and outcome "
    "('accepted' or the refusal's reason).",
    ["provider", "scheme", "outcome"],
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
    "Unknown fields accepted from lenient providers, by field name (the first "
    "100 names per provider; later ones count as 'other').",
    ["provider", "field"],
)
CONSUMER_LAG = Gauge(
    "at_stream_consumer_lag_records",
    "Records in each assigned partition past this worker's position (highwater - position).",
    ["topic", "partition"],
)
TABLE_KEYS = Gauge(
    "at_stream_table_keys",
    "Keys of each table held by this worker (RocksDB's estimate, active and standby).",
    ["table"],
)
BROKER_UP = Gauge(
    "at_stream_broker_up", "1 if the broker answered this worker's last metadata request."
)


MAX_UNKNOWN_FIELD_NAMES = 100
_unknown_names: dict[str, set[str]] = {}


def unknown_field_label(provider: str, name: str) -> str:
    """The ``field`` label for an unknown field: bounded to 100 names per provider."""
    seen = _unknown_names.setdefault(provider, set())
    name = name[:64]
    if name in seen:
        return name
    if len(seen) >= MAX_UNKNOWN_FIELD_NAMES:
        return "other"
    seen.add(name)
    return name


SIGNAL_TO_FILL = Histogram(
    "at_stream_signal_to_fill_seconds",
    "Webhook received (the signal's received_at) to its fill acknowledged on the fills topic "
    "(the fill record's broker timestamp), for fills the simulator produced.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def observe_signal_to_fill(received_at: float, fill_timestamp_ms: int) -> None:
    """One fill's end-to-end latency, from the timestamps its records carry."""
    if fill_timestamp_ms > 0:
        SIGNAL_TO_FILL.observe(max(0.0, fill_timestamp_ms / 1000 - received_at))


STALLED_PARTITIONS = Gauge(
    "at_stream_stalled_partitions",
    "Assigned input partitions with lag and no commit for AT_STREAM_STALL_SECONDS.",
)
CONSUMER_GAPS = Counter(
    "at_stream_consumer_gaps_total",
    "Runs of records Faust did not hand to an agent (dropped around a rebalance): never "
    "committed past; each asked for a rebalance that reads them again.",
)
STALL_REBALANCES = Counter(
    "at_stream_stall_rebalances_total",
    "Rebalances the watchdog asked for because an assigned partition stalled.",
)
ASYNCIO_TASKS = Gauge(
    "at_stream_asyncio_tasks", "asyncio tasks alive in the worker's event loop (leak watch)."
)


# -- NATS JetStream bridge (app/bridge) ---------------------------------------------------
BRIDGE_MESSAGES = Counter(
    "at_stream_bridge_messages_total",
    "Messages bridged: direction kafka-to-nats (PubAck received) or nats-to-kafka (written "
    "to Kafka, then acked), by subject template.",
    ["direction", "subject"],
)
BRIDGE_DUPLICATES = Counter(
    "at_stream_bridge_duplicates_total",
    "Publishes JetStream dropped as duplicates of a Nats-Msg-Id within its duplicate window.",
)
BRIDGE_OUTSTANDING_ACKS = Gauge(
    "at_stream_bridge_outstanding_acks", "Published to JetStream, PubAck not received yet."
)
BRIDGE_REDELIVERIES = Counter(
    "at_stream_bridge_redeliveries_total", "NATS messages delivered to the bridge again."
)
BRIDGE_DEAD_LETTERS = Counter(
    "at_stream_bridge_dead_letters_total", "Invalid legacy NATS signals dead-lettered, then acked."
)
BRIDGE_SKIPPED = Counter(
    "at_stream_bridge_loop_skipped_total",
    "Records not bridged because they came from the other side (loop guard).",
    ["direction"],
)
BRIDGE_ERRORS = Counter(
    "at_stream_bridge_errors_total",
    "Bridge failures by kind: fetch, publish, commit, produce, connect, setup, observe (each "
    "retried) and too-large (a record over NATS max_payload: skipped, never published).",
    ["direction", "kind"],
)
BRIDGE_KAFKA_LAG = Gauge(
    "at_stream_bridge_kafka_lag_records",
    "Records of this worker's bridge partitions not yet published to NATS, by topic.",
    ["topic"],
)
BRIDGE_NATS_PENDING = Gauge(
    "at_stream_bridge_nats_pending_messages",
    "Messages of the inbound durable consumer not yet delivered (pending) or not yet acked.",
    ["state"],
)
BRIDGE_NATS_UP = Gauge("at_stream_bridge_nats_up", "1 while the bridge is connected to NATS.")
BRIDGE_ENABLED = Gauge("at_stream_bridge_enabled", "1 if this worker runs the NATS bridge.")
BRIDGE_ERROR_KINDS = {
    "kafka-to-nats": ("fetch", "publish", "too-large", "commit"),
    "nats-to-kafka": ("fetch", "produce"),
    "both": ("connect", "setup", "observe"),
}


def start_bridge_series() -> None:
    """The bridge's error and skip series at 0 from the start (rates and panels see a 0)."""
    for direction, kinds in BRIDGE_ERROR_KINDS.items():
        for kind in kinds:
            BRIDGE_ERRORS.labels(direction=direction, kind=kind)
    for direction in ("kafka-to-nats", "nats-to-kafka"):
        BRIDGE_SKIPPED.labels(direction=direction)


# -- end of the NATS bridge block ---------------------------------------------------------
