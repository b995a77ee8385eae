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
every ``WRITE_EVERY`` records per partition, not per record, and a timer writes what has
moved every ``WRITE_INTERVAL`` seconds, so it may trail by that much more; what it trails
by is produced again after a crash or a replay, with the same ids. When the agent is not
behind its acks (every record before the current one is acknowledged: a trickle) the mark
is written at once; the timer writes the mark past a burst's last records once they are
acknowledged, with no next record to carry it (the table is written in the context of
the partition's last record, as if from the agent).

A record the agent never got (Faust drops records it had fetched around a rebalance;
``faust_internals.refuse_gap_commits`` then keeps the commit below them and asks for
them again) holds the mark below it: the agent calls ``saw(event)`` first for every
record, and a jump in the offsets stops the mark at the first one missing, until the
next assignment reads them again. The first record of an assignment is expected at the
committed offset Faust seeked to, so a missing head holds the mark too.

The mark is cached in memory (the table's value is read once per partition, and again
after each rebalance): only this worker writes it while it owns the partition, and a
stale cache could only be low, which is safe.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict, deque
from collections.abc import Awaitable, Sequence
from typing import Any

from faust.streams import _current_event
from faust.types import EventT

from app import faust_internals
from app.logs import fields
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


log = logging.getLogger(__name__)

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
        self._moved: dict[str, int] = {}
        """Per key: a mark acknowledgements moved to that is not written yet."""
        self._last: dict[str, EventT[Any]] = {}
        """Per key: the last record tracked, the context the timer writes the mark in."""
        self._next: dict[str, int] = {}
        """Per key: the offset after the last record seen in this assignment."""
        self._hold: dict[str, int] = {}
        """Per key: the first offset skipped in this assignment; the mark stays below it."""
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
        self._moved.clear()
        self._last.clear()
        self._next.clear()
        self._hold.clear()

    def saw(self, event: EventT[Any]) -> None:
        """Note every record the agent gets, before anything else: a record missing from the
        sequence (Faust dropped it; it asks for it again: ``faust_internals.
        refuse_gap_commits``) holds the mark below it, so it is produced when it comes."""
        key, offset = self._key(event), event.message.offset
        expected = self._next.get(key)
        if expected is None:  # the first record of this assignment: Faust seeked here
            expected = faust_internals.committed_offset(app, event.message.tp)
        if expected is not None and offset > expected:
            self._hold.setdefault(key, expected)
        if expected is None or offset >= expected:
            self._next[key] = offset + 1

    def done(self, event: EventT[Any]) -> bool:
        """True if this record's effects were produced and acknowledged before."""
        return event.message.offset < self._mark(self._key(event))

    def track(self, event: EventT[Any], acks: Sequence[Awaitable[Any]]) -> None:
        """Remember this record's produced records; move the mark past acknowledged ones."""
        key = self._key(event)
        pending = self._pending[key]
        for ack in acks:
            pending.append((event.message.offset, ack))
        self._last[key] = event
        mark = self._advance(key)
        if mark is None:
            return
        caught_up = mark == event.message.offset  # all before this record is durable
        if caught_up or mark - self._mark(key) >= WRITE_EVERY:
            self._write(key, mark)

    def flush(self) -> None:
        """Write every mark that acknowledgements moved since it was last written."""
        for key, event in list(self._last.items()):
            mark = self._advance(key)
            if mark is not None:
                token = _current_event.set(weakref.ref(event))
                try:
                    self._write(key, mark)
                finally:
                    _current_event.reset(token)
            if not self._pending[key] and key not in self._moved:
                del self._last[key]  # idle: nothing left to write for it

    def _advance(self, key: str) -> int | None:
        """The mark past the acknowledged head of ``key``'s pending records, if not written."""
        pending = self._pending[key]
        mark = None
        while pending and _acknowledged(pending[0][1]):
            offset, _ = pending.popleft()
            if not pending or pending[0][0] != offset:
                mark = offset + 1
        hold = self._hold.get(key)
        if mark is not None and hold is not None:
            mark = min(mark, hold)
        if mark is not None and mark > self._mark(key):
            self._moved[key] = mark
        return self._moved.get(key)

    def _write(self, key: str, mark: int) -> None:
        ledger[key] = mark  # in the current event's context: its partition
        self._marks[key] = mark
        self._moved.pop(key, None)


@app.timer(WRITE_INTERVAL, name="effects-marks")  # type: ignore[untyped-decorator]
async def _flush_marks() -> None:
    for watermark in WATERMARKS:
        try:
            watermark.flush()
        except Exception:  # a mark not written is produced again later, never lost
            log.warning(
                "effects marks not written", exc_info=True, extra=fields(agent=watermark.agent)
            )


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
