"""Consumes ``orders``: records each as accepted, executes it, emits the fill on ``fills``."""

from __future__ import annotations

import logging
from typing import Any

from faust import StreamT

from app import order_state
from app.agents import dead_letter
from app.errors import DecodeError
from app.execution import immediate_fill
from app.logs import fields
from app.main import app, fills_topic, orders_topic
from app.metrics import DUPLICATES, EVENTS_EMITTED, observe_signal_to_fill
from app.models import Order
from app.tables import order_states
from app.tables.effects import Watermark
from app.topics import correlation_of, decode_keyed, derived_headers

log = logging.getLogger(__name__)
marks = Watermark("orders")


@app.agent(orders_topic, name="orders", concurrency=1)
async def process_orders(stream: StreamT[bytes]) -> None:
    async for event in stream.events():
        marks.saw(event)  # first: a record skipped before it holds the mark
        try:
            order = decode_keyed(Order, orders_topic.get_topic_name(), event.key, event.value)
            fill = immediate_fill(order)
        except (DecodeError, ValueError) as exc:
            await dead_letter(event, getattr(exc, "reason", str(exc)))
            continue
        cid = correlation_of(event.headers)
        state = order_states.get(order.order_id)
        new, own = order_state.receive(state, order, cid, event.message.offset)
        if new is not state:
            order_states.put(new)
        if not own:  # this order id's record is at another offset: its signal came twice
            DUPLICATES.labels(topic="orders").inc()
            log.info(
                "duplicate order skipped", extra=fields(correlation_id=cid, order_id=new.order_id)
            )
            continue
        if marks.done(event):  # its fill is in the log already (a redelivery or a replay)
            DUPLICATES.labels(topic="orders").inc()
            continue
        ack = await fills_topic.send(
            key=event.key, value=fill.dumps(), headers=derived_headers(cid, order.order_id)
        )
        marks.track(event, [ack])
        received = order.created_at.timestamp()  # the signal's received_at
        fut: Any = ack  # Faust's FutureMessage: an asyncio Future
        fut.add_done_callback(lambda f, t=received: _observe(f, t))
        EVENTS_EMITTED.labels(topic="fills").inc()
        log.debug("fill emitted", extra=fields(correlation_id=cid, fill_id=fill.fill_id))


def _observe(ack: Any, received_at: float) -> None:
    """Signal-to-fill latency, once the fill's record is acknowledged (its broker timestamp)."""
    if not ack.cancelled() and ack.exception() is None:
        observe_signal_to_fill(received_at, ack.result().timestamp)
