"""Webhook deliveries seen, by dedupe key: replay protection and Idempotency-Key.

Changelog-backed RocksDB table. The webhook writes it directly, in the partition the
key hashes to (Kafka's default partitioner, as Faust's router): the worker that owns that
partition of the table is the one ``app.web.routing`` sends the request to, so one
process serializes every delivery of a key and reads its own writes at once.

The write goes to the local database and to the changelog (buffered, not awaited), once
the signal itself is acknowledged: a 2xx never rests on this record alone. If the
changelog record is lost (a crash before it is written), a retry of the delivery after
that produces the signal again under the same signal id, and the orders agent executes
an order id once (``app.order_state.receive``): nothing is done twice.

Entries expire after ``AT_STREAM_IDEMPOTENCY_TTL_SECONDS`` (24 h): lookups ignore expired
entries, and a timer deletes them (bounded size).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.main import app, settings
from app.tables import partition_get, partition_of, partition_set, raw_table

log = logging.getLogger(__name__)


class Delivery(BaseModel):
    """The outcome of the first request with a dedupe key, replayed to its duplicates."""

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    signal_id: str
    status: int
    body: dict[str, Any]
    expires_at: float

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at


deliveries = raw_table(
    app,
    "deliveries",
    settings,
    "Webhook dedupe key -> first outcome (replay protection, Idempotency-Key).",
)


class Slot:
    """Where one dedupe key's outcome lives: its key bytes and table partition."""

    __slots__ = ("key", "partition")

    def __init__(self, key: str) -> None:
        self.key = key.encode()
        self.partition = _partition(self.key)

    def lookup(self) -> Delivery | None:
        """The unexpired first outcome of the key, if this worker has seen it."""
        raw = partition_get(deliveries, self.partition, self.key)
        found = None if raw is None else Delivery.model_validate_json(raw)
        return None if found is None or found.expired() else found

    def record(self, delivery: Delivery) -> None:
        """Remember the outcome: local database now, changelog record without waiting."""
        partition_set(deliveries, self.partition, self.key, delivery.model_dump_json().encode())


def _partition(key: bytes) -> int:
    return partition_of(key, settings.topic_partitions)


@app.timer(interval=60.0)  # type: ignore[untyped-decorator]  # faust is untyped
async def sweep_deliveries() -> None:
    """Delete the expired entries of this worker's partitions (bounded size)."""
    now = time.time()
    expired = [
        k for k, raw in list(deliveries.items()) if Delivery.model_validate_json(raw).expired(now)
    ]
    for key in expired:
        partition_set(deliveries, _partition(key), key, None)
    if expired:
        log.info("deleted %d expired deliveries", len(expired))
