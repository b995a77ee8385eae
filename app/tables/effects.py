"""The effects ledger: per input partition, how far an agent's effects are durable.

An agent that produces records for the records it consumes (signals -> orders and fills,
orders -> fills) notes, per input partition, the offset below which every record it
produced has been acknowledged by the broker. A record at an offset below that mark is a
redelivery or a replay whose effects are already in the log, so the agent does not
produce them again.

The agents work in batches and wait for every acknowledgement of a batch before they take
the next one, so after a batch the mark is simply past its last record in each partition:
it is written then (a RocksDB put and a changelog record per partition and batch), and
does not trail. A crash between the acknowledgements and that write produces the batch's
records again, with the same ids, and the consumers' own dedupe drops them.

This ledger records effects, not derived state: ``at-stream reset`` keeps it, so a
replay rebuilds tables without producing records again. One small entry per input
partition.

The mark is cached in memory (the table's value is read once per partition, and again
after each rebalance): only this worker writes it while it owns the partition, and a
stale cache could only be low, which is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from faust.types import EventT

from app.faust_internals import in_event
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

LEDGERS: list[Ledger] = []


class Ledger:
    """One agent's marks: ``done(event)`` before producing, ``advance(events)`` after."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self._marks: dict[str, int] = {}
        """Per key: the mark as last read from or written to the table."""
        LEDGERS.append(self)

    def _key(self, event: EventT[Any]) -> str:
        return f"{self.agent}:{event.message.topic}:{event.message.partition}"

    def _mark(self, key: str, event: EventT[Any]) -> int:
        mark = self._marks.get(key)
        if mark is None:
            with in_event(event):  # the table's partition is the record's
                mark = self._marks[key] = ledger.get(key, 0)
        return mark

    def forget(self) -> None:
        """Drop the cached marks (on a rebalance: a partition may come back advanced)."""
        self._marks.clear()

    def done(self, event: EventT[Any]) -> bool:
        """True if this record's effects were produced and acknowledged before."""
        return event.message.offset < self._mark(self._key(event), event)

    def advance(self, events: Iterable[EventT[Any]]) -> None:
        """Move each partition's mark past its last record of ``events``.

        Call only once every record those events caused is acknowledged.
        """
        last: dict[str, EventT[Any]] = {}
        for event in events:
            last[self._key(event)] = event
        for key, event in last.items():
            mark = event.message.offset + 1
            if mark > self._mark(key, event):
                with in_event(event):
                    ledger[key] = mark
                self._marks[key] = mark


@app.on_partitions_revoked.connect
def _forget_marks(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    for entry in LEDGERS:
        entry.forget()
