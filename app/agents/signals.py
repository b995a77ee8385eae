"""Consumes ``signals``: what each signal means, on ``orders``, a batch at a time.

An ``order`` intent is one order per account its strategy is routed to (unrouted: its
own account); a ``target_position`` or ``close`` intent is one target request per
account, which the execution step turns into the order that reaches the target
(``app.execution.commands_for``). A signal that reaches ``signals`` twice (a webhook retry
after a crash between the broker's ack and the deliveries write) yields its commands
twice, with the same order ids; the execution step executes an order id once.
"""

from __future__ import annotations

import asyncio
import logging

from faust import StreamT
from faust.types import EventT

from app.agents import BATCH_RECORDS, Ack, dead_letter
from app.errors import DecodeError
from app.execution import commands_for, routes_of
from app.faust_internals import batches, in_event
from app.logs import fields
from app.main import app, orders_topic, settings, signals_topic
from app.metrics import DUPLICATES, EVENTS_EMITTED
from app.models import Signal
from app.outbox import Outbox
from app.tables.effects import Watermark
from app.topics import correlation_of, decode_keyed, derived_headers
from app.trading.commands import Kind, kind_headers

log = logging.getLogger(__name__)
marks = Watermark("signals")
routes = routes_of(settings)


@app.agent(signals_topic, name="signals", concurrency=1)
async def process_signals(stream: StreamT[bytes]) -> None:
    async for events in batches(stream, BATCH_RECORDS):
        await _process(events)


async def _process(events: list[EventT[bytes]]) -> None:
    sent: list[tuple[EventT[bytes], list[Ack]]] = []
    dead: list[Ack] = []
    duplicates = emitted = 0
    topic = signals_topic.get_topic_name()
    out, orders = Outbox(), orders_topic.get_topic_name()
    for event in events:
        marks.saw(event)  # first: a record skipped before it holds the mark
        if marks.done(event):  # its orders are in the log already (a redelivery or a replay)
            duplicates += 1
            continue
        try:
            signal = decode_keyed(Signal, topic, event.key, event.value)
        except DecodeError as exc:
            dead.append(await dead_letter(event, exc.reason))
            continue
        commands, skipped = commands_for(signal, routes)
        cid = correlation_of(event.headers)
        for line in skipped:
            log.info("routed account gets no order: %s", line, extra=fields(correlation_id=cid))
        headers = derived_headers(cid, signal.signal_id)
        acks: list[Ack] = []
        for command in commands:  # an order has no kind header, as before issue 12
            h = headers if command.kind is Kind.ORDER else kind_headers(command.kind, headers)
            acks.append(out.add(orders, command.key, command.value.dumps(), h))
        emitted += len(acks)
        sent.append((event, acks))
    await out.send(app.producer)
    await asyncio.gather(*dead, *(ack for _, acks in sent for ack in acks))  # raises: none acked
    for event, acks in sent:
        with in_event(event):
            marks.track(event, acks)
    marks.flush()  # one mark per partition per batch
    EVENTS_EMITTED.labels(topic="orders").inc(emitted)
    if duplicates:
        DUPLICATES.labels(topic="signals").inc(duplicates)
