"""Webhook deliveries seen, by dedupe key: replay protection and Idempotency-Key.

Changelog-backed RocksDB table. Faust's RocksDB store writes only inside a stream event,
so the webhook does not write it directly: it produces the outcome to the internal
``<app id>-deliveries`` topic (keyed by the dedupe key, acks=all, not waited for) and the
``deliveries`` agent applies it. Until then the webhook answers duplicates from
``recent``. Topic and table share the key and partition count, so the worker that owns a
key's partition is the one that consumes it, and ``app.web.routing`` sends requests there.

Entries expire after ``AT_STREAM_IDEMPOTENCY_TTL_SECONDS`` (24 h): lookups ignore expired
entries, and a timer asks the agent (through the topic) to delete them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.main import app, deliveries_topic, settings
from app.tables import raw_table

log = logging.getLogger(__name__)

RECENT_MAX = 4096  # outcomes not yet applied by the agent: a second or so of traffic


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

# Outcomes produced but maybe not yet applied by the agent (newest last).
recent: OrderedDict[str, Delivery] = OrderedDict()


def lookup(key: str) -> Delivery | None:
    found = recent.get(key)
    if found is None:
        raw = deliveries.get(key.encode())
        found = None if raw is None else Delivery.model_validate_json(raw)
    return None if found is None or found.expired() else found


async def record(key: str, delivery: Delivery) -> None:
    """Remember the outcome at once; record it durably without waiting for the ack.

    Called once the signal itself is acknowledged, so a 2xx never rests on this record
    alone. Not waiting saves the webhook a second broker round trip. If the record is
    lost (a crash or a broker failure before it is written), a retry of the delivery
    after that produces the signal again, under the same signal id: the orders agent
    executes an order id once (``app.order_state.receive``), so nothing is done twice.
    """
    recent[key] = delivery
    while len(recent) > RECENT_MAX:
        recent.popitem(last=False)
    fut = await deliveries_topic.send(key=key.encode(), value=delivery.model_dump_json().encode())
    asyncio.ensure_future(fut).add_done_callback(lambda f: _check(key, f))


def _check(key: str, fut: asyncio.Future[Any]) -> None:
    if fut.cancelled() or fut.exception() is not None:
        error = "cancelled" if fut.cancelled() else type(fut.exception()).__name__
        log.warning("delivery record not written (key %s): %s", key, error)


@app.timer(interval=60.0)  # type: ignore[untyped-decorator]  # faust is untyped
async def sweep_deliveries() -> None:
    """Ask for expired entries of this worker's partitions to be deleted (bounded size)."""
    now = time.time()
    expired = [
        k for k, raw in list(deliveries.items()) if Delivery.model_validate_json(raw).expired(now)
    ]
    for key in expired:
        await deliveries_topic.send(key=key, value=b"")
    for key_text in [k for k, d in recent.items() if d.expired(now)]:
        del recent[key_text]
    if expired:
        log.info("asked to delete %d expired deliveries", len(expired))
