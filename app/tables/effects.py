"""The effects ledger: per input partition, how far an agent's effects are durable.

An agent that produces records for the records it consumes (signals -> orders, orders ->
fills) notes, per input partition, the offset below which every record it produced has
been acknowledged by the broker. A record at an offset below that mark is a redelivery
or a replay whose effects are already in the log, so the agent does not produce them
again. The mark trails by the ack latency: after a crash the last few records are
produced again, with the same ids, and the consumers' own dedupe drops them.

This ledger records effects, not derived state: ``at-stream reset`` keeps it, so a
replay rebuilds tables without producing any record twice. One small entry per input
partition.
"""

from __future__ import annotations

import asyncio
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


class Watermark:
    """One agent's marks: ``done(event)`` before producing, ``track(event, ack)`` after."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self._pending: dict[str, deque[tuple[int, Awaitable[Any]]]] = defaultdict(deque)

    def _key(self, event: EventT[Any]) -> str:
        return f"{self.agent}:{event.message.topic}:{event.message.partition}"

    def done(self, event: EventT[Any]) -> bool:
        """True if this record's effects were produced and acknowledged before."""
        mark: int = ledger.get(self._key(event), 0)
        return event.message.offset < mark

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
        if mark is not None and mark > ledger.get(key, 0):
            ledger[key] = mark  # written in this event's context: its partition


def _acknowledged(ack: Awaitable[Any]) -> bool:
    """A send's future (Faust's FutureMessage is an asyncio Future) resolved without error."""
    return (
        isinstance(ack, asyncio.Future)
        and ack.done()
        and not ack.cancelled()
        and ack.exception() is None
    )
