"""Consumes ``signals``: per signal, its order on ``orders`` and, executed at once by the
simulator, its fill on ``fills``, applied to the order's state and the position here.

Per batch: the orders and fills are sent and every acknowledgement awaited, then the
order states and positions are written (so an order state that shows a fill means the
fill is in the log), then the effects marks. The orders carry ``x-executed-by: signals``,
so the orders agent does not execute them again; the fills agent finds the chain's fills
applied already (the position's last fill offset) without decoding them.

A signal that reaches ``signals`` twice (a webhook retry after a crash between the
broker's ack and the deliveries write) yields its order twice, with one order id, and one
fill: the second finds the order's state (or the first, earlier in the batch).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from faust import StreamT
from faust.types import EventT

from app.agents import (
    BATCH_RECORDS,
    Ack,
    book_for,
    dead_letter,
    offset_of,
    produce,
    stage_book,
    timestamp_of,
)
from app.book import Book
from app.errors import AtStreamError, DecodeError
from app.execution import immediate_fill, order_for
from app.faust_internals import batches
from app.logs import fields
from app.main import app, fills_topic, orders_topic, signals_topic
from app.metrics import DUPLICATES, EVENTS_EMITTED, observe_signal_to_fill
from app.models import Fill, Order, Signal
from app.tables import order_states
from app.tables.batch import TableWrites
from app.tables.effects import Ledger
from app.topics import EXECUTED_HEADER, correlation_of, decode_keyed, derived_headers

log = logging.getLogger(__name__)
marks = Ledger("signals")
EXECUTED_BY = b"signals"


@dataclass
class Execution:
    """A signal's order and fill, sent, to apply once both are acknowledged."""

    partition: int
    key: bytes | None
    correlation_id: str
    order: Order
    fill: Fill
    order_ack: Ack
    fill_ack: Ack


@app.agent(signals_topic, name="signals", concurrency=1)
async def process_signals(stream: StreamT[bytes]) -> None:
    async for events in batches(stream, BATCH_RECORDS):
        await _process(events)


async def _process(events: list[EventT[bytes]]) -> None:
    acks: list[Ack] = []
    executions: list[Execution] = []
    ordered: set[str] = set()
    orders = duplicates = 0
    for event in events:
        if marks.done(event):  # its order is in the log already (a redelivery or a replay)
            duplicates += 1
            continue
        try:
            signal = decode_keyed(Signal, signals_topic.get_topic_name(), event.key, event.value)
        except DecodeError as exc:
            acks.append(await dead_letter(event, exc.reason))
            continue
        cid = correlation_of(event.headers)
        order = order_for(signal)  # a signal twice on the topic: one order id, twice
        headers = derived_headers(cid, signal.signal_id)
        orders += 1
        try:
            fill = immediate_fill(order)
        except ValueError:  # not executable here: the orders agent dead-letters it
            acks.append(await produce(orders_topic, event.key, order.dumps(), headers))
            continue
        headers[EXECUTED_HEADER] = EXECUTED_BY
        partition = event.message.partition
        if order.order_id in ordered or order_states.get_in(partition, order.order_id) is not None:
            duplicates += 1  # executed already: the order again, no second fill
            acks.append(await produce(orders_topic, event.key, order.dumps(), headers))
            continue
        ordered.add(order.order_id)
        order_ack = await produce(orders_topic, event.key, order.dumps(), headers)
        fill_ack = await produce(
            fills_topic, event.key, fill.dumps(), derived_headers(cid, order.order_id)
        )
        executions.append(Execution(partition, event.key, cid, order, fill, order_ack, fill_ack))
    await asyncio.gather(*acks, *(a for e in executions for a in (e.order_ack, e.fill_ack)))
    for e in executions:
        observe_signal_to_fill(e.order.created_at.timestamp(), timestamp_of(e.fill_ack))
    writes = TableWrites()
    for partition, book in _apply(executions).items():
        stage_book(writes, partition, book)
    writes.write_local()
    await writes.send(app.producer)  # acknowledged before Faust commits (it flushes)
    marks.advance(events)
    EVENTS_EMITTED.labels(topic="orders").inc(orders)
    EVENTS_EMITTED.labels(topic="fills").inc(len(executions))
    if duplicates:
        DUPLICATES.labels(topic="signals").inc(duplicates)


def _apply(executions: list[Execution]) -> dict[int, Book]:
    """Each acknowledged order and fill into the order states and positions (no await
    until written: the other agents' writes cannot come between a read and its write)."""
    books: dict[int, Book] = {}
    for e in executions:
        book = books.get(e.partition)
        if book is None:
            book = books[e.partition] = book_for(e.partition)
        order_offset, fill_offset = offset_of(e.order_ack), offset_of(e.fill_ack)
        try:
            book.receive(e.order, e.correlation_id, order_offset)
            book.apply(e.fill, e.correlation_id, e.key or b"", fill_offset)
        except AtStreamError as exc:  # the fills agent dead-letters the fill
            log.warning("fill not applied: %s", exc, extra=fields(fill_id=e.fill.fill_id))
    return books
