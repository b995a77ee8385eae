"""The execution clock: the time, written to every partition of ``orders``.

Every ``AT_STREAM_CLOCK_INTERVAL_SECONDS`` the worker that holds partition 0 of
``orders`` writes a :class:`~app.trading.commands.ClockTick` (kind ``clock``) to every
partition, as the quotes agent copies quotes. The execution step expires each resting
``day`` order whose session closed by the tick's time, at the tick's place in the log: a
replay of the log expires the same orders with the same events, and an order expires
within one interval of its session's close even when no quote of its symbol comes. A tick
written twice (two workers during a rebalance) expires nothing the second time.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from app.agents import produce
from app.faust_internals import assigned_partitions
from app.main import app, orders_topic, settings
from app.trading.commands import ClockTick, Kind, kind_headers
from app.web.routing import ready

log = logging.getLogger(__name__)

KEY = b"clock"
HEADERS = kind_headers(Kind.CLOCK)


async def tick(now: datetime | None = None) -> int:
    """One tick to every partition of ``orders``, acknowledged; returns how many."""
    value = ClockTick(at=now or datetime.now(UTC)).dumps()
    partitions = settings.topic_partitions
    acks = [await produce(orders_topic, KEY, value, HEADERS, p) for p in range(partitions)]
    await asyncio.gather(*acks)
    return len(acks)


if settings.clock_interval_seconds > 0:

    @app.timer(settings.clock_interval_seconds, name="execution-clock")  # type: ignore[untyped-decorator]
    async def _clock() -> None:
        if not ready(app) or 0 not in assigned_partitions(app, orders_topic.get_topic_name()):
            return
        try:
            await tick()
        except Exception:  # the next tick comes; an order expires one interval later
            log.exception("clock tick not written")
