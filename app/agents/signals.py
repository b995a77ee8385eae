"""Consumes ``signals``: one order per signal on ``orders``, a batch at a time.

A signal that reaches ``signals`` twice (a webhook retry after a crash between the
broker's ack and the deliveries write) yields its order twice, with one order id; the
orders agent executes only the first record of an order id (``order_state.receive``).
"""

from __future__ import annotations

import asyncio
import logging

from faust import StreamT
from faust.types import EventT

from app.agents import BATCH_RECORDS, Ack, dead_letter, produce
from app.errors import DecodeError
from app.execution import order_for
from app.faust_internals import batches, in_event
from app.main import app, orders_topic, signals_topic
from app.metrics import DUPLICATES, EVENTS_EMITTED
from app.models import Signal
from app.tables.effects import Watermark
from app.topics import correlation_of, decode_keyed, derived_headers

log = logging.getLogger(__name__)
marks = Watermark("signals")


@app.agent(signals_topic, name="signals", concurrency=1)
async def process_signals(stream: StreamT[bytes]) -> None:
    async for events in batches(stream, BATCH_RECORDS):
        await _process(events)


async def _process(events: list[EventT[bytes]]) -> None:
    sent: list[tuple[EventT[bytes], Ack]] = []
    dead: list[Ack] = []
    duplicates = 0
    topic = signals_topic.get_topic_name()
    for event in events:
        marks.saw(event)  # first: a record skipped before it holds the mark
        if marks.done(event):  # its order is in the log already (a redelivery or a replay)
            duplicates += 1
            continue
        try:
            signal = decode_keyed(Signal, topic, event.key, event.value)
        except DecodeError as exc:
            dead.append(await dead_letter(event, exc.reason))
            continue
        order = order_for(signal)  # a signal twice on the topic: one order id, twice
        headers = derived_headers(correlation_of(event.headers), signal.signal_id)
        sent.append((event, await produce(orders_topic, event.key, order.dumps(), headers)))
    await asyncio.gather(*dead, *(ack for _, ack in sent))  # raises: nothing acked, read again
    for event, ack in sent:
        with in_event(event):
            marks.track(event, [ack])
    marks.flush()  # one mark per partition per batch
    EVENTS_EMITTED.labels(topic="orders").inc(len(sent))
    if duplicates:
        DUPLICATES.labels(topic="signals").inc(duplicates)
