"""The effects ledger: per input partition, how far an agent's effects are durable.

An agent that produces records for the records it consumes (signals -> orders, orders ->
fills) notes, per input partition, the offset below which every record it produced has
been acknowledged by the broker. A record at an offset below that mark is a redelivery
or a replay whose effects are already in the log, so the agent does not produce them
again. The mark trails by the ack latency: after a crash the last few records are
produced again, with the same ids, and the consumers' own dedupe drops them.

This ledger records effects, not derived state: ``at-stream reset`` keeps it, so a
replay rebuilds tables without producing records again (but the few the mark trails by).
One small entry per input partition.

Cost: under load a mark is written to the table (a RocksDB put and a changelog record)
every ``WRITE_EVERY`` records or ``WRITE_INTERVAL`` seconds per partition, not per record,
so it may trail by that much more; what it trails by is produced again after a crash or
a replay, with the same ids. When the agent is not behind its acks (every record before
the current one is acknowledged: a trickle, an idle moment) the mark is written at once.

The mark is cached in memory (the table's value is read once per partition, and again
after each rebalance): only this worker writes it while it owns the partition, and a
stale cache could only be low, which is safe.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Sequence
from typing import Any

from faust.types import EventT

from app.main import app, settings
from app.tables import rocksdb_options

ledger = app.Table(
    "effects",
    default=int,
    key_type=str,
    value_type=int,
    partitions=settings.topic_partitions,
    options=rocksdb_options(settings),
    help="<agent>:<topic>:<partition> -> first input offset whose effects are not known durable.",
)


WRITE_EVERY = 200
WRITE_INTERVAL = 0.25
WATERMARKS: list[Watermark] = []


class Watermark:
    """One agent's marks: ``done(event)`` before producing, ``track(event, ack)`` after."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self._pending: dict[str, deque[tuple[int, Awaitable[Any]]]] = defaultdict(deque)
        self._marks: dict[str, int] = {}
        """Per key: the mark as last read from or written to the table."""
        self._written_at: dict[str, float] = {}
        WATERMARKS.append(self)

    def _key(self, event: EventT[Any]) -> str:
        return f"{self.agent}:{event.message.topic}:{event.message.partition}"

    def _mark(self, key: str) -> int:
        mark = self._marks.get(key)
        if mark is None:
            mark = self._marks[key] = ledger.get(key, 0)
        return mark

    def forget(self) -> None:
        """Drop the cached marks (on a rebalance: a partition may come back advanced)."""
        self._marks.clear()
        self._pending.clear()

    def done(self, event: EventT[Any]) -> bool:
        """True if this record's effects were produced and acknowledged before."""
        return event.message.offset < self._mark(self._key(event))

    def track(self, event: EventT[Any], acks: Sequence[Awaitable[Any]]) -> None:
        """Remember this record's produced records; move the mark past acknowledged ones."""
        key = self._key(event)
        pending = self._pending[key]
        for ack in acks:
            pending.append((event.message.offset, ack))
        mark = None
        while pending and _acknowledged(pending[0][1]):
            offset, _ = pending.popleft()
            if not pending or pending[0][0] != offset:
                mark = offset + 1
        if mark is None or mark <= (last := self._mark(key)):
            return
        now = time.monotonic()
        caught_up = mark == event.message.offset  # all before this record is durable
        stale = now - self._written_at.get(key, 0.0) >= WRITE_INTERVAL
        if caught_up or stale or mark - last >= WRITE_EVERY:
            ledger[key] = mark  # written in this event's context: its partition
            self._marks[key] = mark
            self._written_at[key] = now


@app.on_partitions_revoked.connect
def _forget_marks(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    for watermark in WATERMARKS:
        watermark.forget()


def _acknowledged(ack: Awaitable[Any]) -> bool:
    """A send's future (Faust's FutureMessage is an asyncio Future) resolved without error."""
    return (
        isinstance(ack, asyncio.Future)
        and ack.done()
        and not ack.cancelled()
        and ack.exception() is None
    )
