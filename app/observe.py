"""What the worker exports besides its own counters: Faust's sensors, and gauges read off
the running worker every few seconds (lag, table sizes, broker).

Consumer lag per assigned topic partition is the highwater mark minus this worker's
position (Faust's public ``Consumer.highwater`` and ``Consumer.position``); series of
partitions no longer assigned are removed, so the label set stays bounded by topics x
partitions. Table sizes are RocksDB's key estimates (``app.tables.size_estimate``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faust.sensors.prometheus import FaustMetrics
from prometheus_client import REGISTRY

from app.main import app, settings
from app.metrics import (
    ASYNCIO_TASKS,
    BROKER_UP,
    CONSUMER_LAG,
    DEAD_LETTERS,
    DUPLICATES,
    TABLE_KEYS,
)
from app.sensors import SeriesCachingMonitor
from app.tables import size_estimate

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 5.0
_reported: set[tuple[str, str]] = set()

# Faust's own sensors (messages, events, commits, sends, rebalances, table ops), under the
# fixed prefix ``faust_`` (not the app id, so dashboards work for every deployment),
# served by our /metrics with the rest of the default registry.
if settings.faust_sensors:
    app.monitor = SeriesCachingMonitor(metrics=FaustMetrics.create(REGISTRY, "faust"))

# Series that exist from the start, so rates and alerts see a 0 rather than nothing.
for _topic in (settings.signals_topic, settings.orders_topic, settings.fills_topic):
    DEAD_LETTERS.labels(source=_topic)
for _name in ("signals", "orders", "fills"):
    DUPLICATES.labels(topic=_name)


async def lag_by_partition(worker_app: Any) -> dict[tuple[str, str], int]:
    consumer = worker_app.consumer
    out: dict[tuple[str, str], int] = {}
    for tp in sorted(consumer.assignment()):
        position = await consumer.position(tp)
        highwater = consumer.highwater(tp)
        if position is None or highwater is None:
            continue
        out[(tp.topic, str(tp.partition))] = max(0, int(highwater) - int(position))
    return out


@app.timer(INTERVAL_SECONDS, name="observe")  # type: ignore[untyped-decorator]
async def observe() -> None:
    try:
        lags = await lag_by_partition(app)
    except Exception:  # not started, rebalancing: the next tick tries again
        log.debug("lag not read", exc_info=True)
        lags = None
    if lags is not None:
        for labels in _reported - set(lags):
            CONSUMER_LAG.remove(*labels)
        for labels, lag in lags.items():
            CONSUMER_LAG.labels(*labels).set(lag)
        _reported.clear()
        _reported.update(lags)
    for table in app.tables.values():
        TABLE_KEYS.labels(table=table.name).set(size_estimate(table))
    BROKER_UP.set(0 if await broker_unreachable(app) else 1)
    ASYNCIO_TASKS.set(len(asyncio.all_tasks()))


async def broker_unreachable(worker_app: Any) -> str | None:
    """None if the broker answers a metadata request within 2 s, else why not."""
    try:
        client = worker_app.producer._producer.client  # the aiokafka client of Faust's producer
        await asyncio.wait_for(client.fetch_all_metadata(), timeout=2.0)
    except Exception as exc:  # any failure means "unreachable", with the reason
        return type(exc).__name__
    return None
