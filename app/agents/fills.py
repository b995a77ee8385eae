"""Consumes ``fills``: applies each fill to its position and its order, once.

A fills record whose position applied it already (its offset is at or below the
position's last fill offset: the signals agent's own fills, a redelivery) is skipped
without decoding it. A fill its order state has applied is a duplicate at any distance
(the order state keeps every fill id of its order); the position's own checks (the offset
of the last fill, the last 64 fill ids) catch a redelivered record whose order state was
not written yet (a crash between the two writes).

Per batch: read, apply and write the tables of each partition with no await in between
(so another agent's write cannot come between a read and its write), then the changelog
and dead letters, every acknowledgement awaited.
"""

from __future__ import annotations

import asyncio
import logging

from faust import StreamT
from faust.types import EventT

from app.agents import BATCH_RECORDS, Ack, book_for, dead_letter, stage_book
from app.book import Book
from app.errors import AtStreamError, DecodeError
from app.faust_internals import batches
from app.main import app, fills_topic
from app.metrics import DUPLICATES
from app.models import Fill
from app.tables.batch import TableWrites
from app.topics import correlation_of, decode_keyed

log = logging.getLogger(__name__)


@app.agent(fills_topic, name="fills", concurrency=1)
async def process_fills(stream: StreamT[bytes]) -> None:
    async for events in batches(stream, BATCH_RECORDS):
        await _process(events)


async def _process(events: list[EventT[bytes]]) -> None:
    books: dict[int, Book] = {}
    bad: list[tuple[EventT[bytes], str]] = []
    duplicates = 0
    for event in events:
        partition, offset = event.message.partition, event.message.offset
        key = event.key or b""
        book = books.get(partition)
        if book is None:
            book = books[partition] = book_for(partition)
        if book.seen(key, offset):
            duplicates += 1
            continue
        try:
            fill = decode_keyed(Fill, fills_topic.get_topic_name(), event.key, event.value)
            if not book.apply(fill, correlation_of(event.headers), key, offset):
                duplicates += 1
        except DecodeError as exc:
            bad.append((event, exc.reason))
        except AtStreamError as exc:  # mismatch, overfill, a transition that cannot be
            bad.append((event, f"{type(exc).__name__}: {exc}"))
    writes = TableWrites()
    for partition, book in books.items():
        stage_book(writes, partition, book)
    writes.write_local()
    acks: list[Ack] = [await dead_letter(event, reason) for event, reason in bad]
    await writes.send(app.producer)  # acknowledged before Faust commits (it flushes)
    await asyncio.gather(*acks)
    if duplicates:
        DUPLICATES.labels(topic="fills").inc(duplicates)
