"""Consumes ``orders``: records each as accepted, executes it, emits the fill on ``fills``,
a batch at a time."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faust import StreamT
from faust.types import EventT

from app import order_state
from app.agents import BATCH_RECORDS, dead_letter, produce
from app.errors import DecodeError
from app.execution import immediate_fill
from app.faust_internals import batches, in_event
from app.logs import fields
from app.main import app, fills_topic, orders_topic
from app.metrics import DUPLICATES, EVENTS_EMITTED, observe_signal_to_fill
from app.models import Order
from app.tables import order_states
from app.tables.batch import PartitionWrites
from app.tables.effects import Watermark
from app.topics import correlation_of, decode_keyed, derived_headers

log = logging.getLogger(__name__)
marks = Watermark("orders")


@app.agent(orders_topic, name="orders", concurrency=1)
async def process_orders(stream: StreamT[bytes]) -> None:
    async for events in batches(stream, BATCH_RECORDS):
        await _process(events)


async def _process(events: list[EventT[bytes]]) -> None:
    writes = PartitionWrites()
    fills: list[tuple[EventT[bytes], bytes, dict[str, bytes], float]] = []
    bad: list[tuple[EventT[bytes], str]] = []
    duplicates = 0
    topic = orders_topic.get_topic_name()
    for event in events:  # no await in here: the order states are read and staged as one
        marks.saw(event)  # first: a record skipped before it holds the mark
        try:
            order = decode_keyed(Order, topic, event.key, event.value)
            fill = immediate_fill(order)
        except (DecodeError, ValueError) as exc:
            bad.append((event, getattr(exc, "reason", str(exc))))
            continue
        cid = correlation_of(event.headers)
        partition = event.message.partition  # the order state's partition is the order's
        state = order_states.get_in(writes, partition, order.order_id)
        new, own = order_state.receive(state, order, cid, event.message.offset)
        if new is not state:
            order_states.stage(writes, partition, new)
        if not own:  # this order id's record is at another offset: its signal came twice
            duplicates += 1
            log.info(
                "duplicate order skipped", extra=fields(correlation_id=cid, order_id=new.order_id)
            )
            continue
        if marks.done(event):  # its fill is in the log already (a redelivery or a replay)
            duplicates += 1
            continue
        received = order.created_at.timestamp()  # the signal's received_at
        fills.append((event, fill.dumps(), derived_headers(cid, order.order_id), received))
    writes.write_local()
    await writes.send(app.producer)
    sent = [(e, await produce(fills_topic, e.key, v, h), t) for e, v, h, t in fills]
    dead = [await dead_letter(event, reason) for event, reason in bad]
    await asyncio.gather(*dead, *(ack for _, ack, _ in sent))  # raises: nothing acked
    for event, ack, received in sent:
        with in_event(event):
            marks.track(event, [ack])
        _observe(ack, received)
    marks.flush()  # one mark per partition per batch
    EVENTS_EMITTED.labels(topic="fills").inc(len(sent))
    if duplicates:
        DUPLICATES.labels(topic="orders").inc(duplicates)


def _observe(ack: Any, received_at: float) -> None:
    """Signal-to-fill latency, from the fill record's broker timestamp."""
    observe_signal_to_fill(received_at, ack.result().timestamp)
