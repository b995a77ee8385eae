"""Consumes ``signals``: one order per signal on ``orders``.

A signal that reaches ``signals`` twice (a webhook retry after a crash between the
broker's ack and the deliveries write) yields its order twice, with one order id; the
orders agent executes only the first record of an order id (``order_state.receive``).
"""

from __future__ import annotations

import logging

from faust import StreamT

from app.agents import dead_letter
from app.errors import DecodeError
from app.execution import order_for
from app.logs import fields
from app.main import app, orders_topic, signals_topic
from app.metrics import DUPLICATES, EVENTS_EMITTED
from app.models import Signal
from app.tables.effects import Watermark
from app.topics import correlation_of, decode_keyed, derived_headers

log = logging.getLogger(__name__)
marks = Watermark("signals")


@app.agent(signals_topic, name="signals", concurrency=1)
async def process_signals(stream: StreamT[bytes]) -> None:
    async for event in stream.events():
        marks.saw(event)  # first: a record skipped before it holds the mark
        if marks.done(event):  # its order is in the log already (a redelivery or a replay)
            DUPLICATES.labels(topic="signals").inc()
            continue
        try:
            signal = decode_keyed(Signal, signals_topic.get_topic_name(), event.key, event.value)
        except DecodeError as exc:
            await dead_letter(event, exc.reason)
            continue
        cid = correlation_of(event.headers)
        order = order_for(signal)  # a signal twice on the topic: one order id, twice
        ack = await orders_topic.send(
            key=event.key, value=order.dumps(), headers=derived_headers(cid, signal.signal_id)
        )
        marks.track(event, [ack])
        EVENTS_EMITTED.labels(topic="orders").inc()
        log.debug("order emitted", extra=fields(correlation_id=cid, order_id=order.order_id))
