"""Consumes ``orders``: records each as accepted, executes it, emits the fill on ``fills``.

Orders the signals agent executed itself (``x-executed-by``) are skipped unread: that
agent produced their fill. The others (orders from elsewhere) are executed here: per
batch, the order states are written first, then the fills sent and every acknowledgement
awaited, then the effects marks.
"""

from __future__ import annotations

import asyncio
import logging

from faust import StreamT
from faust.types import EventT

from app.agents import BATCH_RECORDS, Ack, book_for, dead_letter, produce, stage_book
from app.book import Book
from app.errors import DecodeError
from app.execution import immediate_fill
from app.faust_internals import batches
from app.logs import fields
from app.main import app, fills_topic, orders_topic
from app.metrics import DUPLICATES, EVENTS_EMITTED
from app.models import Fill, Order
from app.tables.batch import TableWrites
from app.tables.effects import Ledger
from app.topics import EXECUTED_HEADER, correlation_of, decode_keyed, derived_headers

log = logging.getLogger(__name__)
marks = Ledger("orders")


@app.agent(orders_topic, name="orders", concurrency=1)
async def process_orders(stream: StreamT[bytes]) -> None:
    async for events in batches(stream, BATCH_RECORDS):
        await _process(events)


async def _process(events: list[EventT[bytes]]) -> None:
    books: dict[int, Book] = {}
    bad: list[tuple[EventT[bytes], str]] = []
    execute: list[tuple[EventT[bytes], str, Order, Fill]] = []
    duplicates = 0
    for event in events:  # no await until the states are written
        if EXECUTED_HEADER in event.headers:  # its fill is the executing agent's
            continue
        try:
            order = decode_keyed(Order, orders_topic.get_topic_name(), event.key, event.value)
            fill = immediate_fill(order)
        except (DecodeError, ValueError) as exc:
            bad.append((event, getattr(exc, "reason", str(exc))))
            continue
        cid = correlation_of(event.headers)
        partition = event.message.partition
        book = books.get(partition)
        if book is None:
            book = books[partition] = book_for(partition)
        if not book.receive(order, cid, event.message.offset):
            duplicates += 1  # this order id's record is at another offset: its signal came twice
            log.info(
                "duplicate order skipped", extra=fields(correlation_id=cid, order_id=order.order_id)
            )
            continue
        if marks.done(event):  # its fill is in the log already (a redelivery or a replay)
            duplicates += 1
            continue
        execute.append((event, cid, order, fill))
    writes = TableWrites()
    for partition, book in books.items():
        stage_book(writes, partition, book)
    writes.write_local()
    acks: list[Ack] = [await dead_letter(event, reason) for event, reason in bad]
    for event, cid, order, fill in execute:
        headers = derived_headers(cid, order.order_id)
        acks.append(await produce(fills_topic, event.key, fill.dumps(), headers))
    await writes.send(app.producer)  # acknowledged before Faust commits (it flushes)
    await asyncio.gather(*acks)
    marks.advance(events)
    EVENTS_EMITTED.labels(topic="fills").inc(len(execute))
    if duplicates:
        DUPLICATES.labels(topic="orders").inc(duplicates)
