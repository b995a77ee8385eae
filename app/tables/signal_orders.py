"""Signals already turned into orders: the stream-side guard against duplicates.

A signal record can reach ``signals`` twice (a webhook retry after a crash between the
broker's ack and the deliveries table write; a producer retry). Both copies carry the
same ``signal_id`` and key, so they land on one partition; this table, written in the
signals agent's event context, makes the second one a no-op. Windowed by day and kept
two days, so it does not grow without bound; a duplicate is looked up in the current
and the previous day.
"""

from __future__ import annotations

from datetime import timedelta

from app.main import app, settings
from app.tables import rocksdb_options

WINDOW = timedelta(days=1)

signal_orders = app.Table(
    "signal-orders",
    default=str,
    key_type=str,
    value_type=str,
    partitions=settings.topic_partitions,
    options=rocksdb_options(settings),
    help="signal_id -> order_id of the order it caused.",
).tumbling(WINDOW, expires=2 * WINDOW)


def order_of(signal_id: str) -> str | None:
    """The order this signal already caused, if any (within the retention)."""
    entry = signal_orders[signal_id]
    return entry.current() or entry.delta(WINDOW) or None


def remember(signal_id: str, order_id: str) -> None:
    signal_orders[signal_id] = order_id
