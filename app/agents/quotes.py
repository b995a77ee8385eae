"""Consumes ``quotes``: copies each quote to every partition of ``orders``, a batch at a
time (``app.trading.commands``: a broadcast repartition, so that the resting orders of a
symbol, spread over every partition by ``account|symbol``, all meet it).

A bad quote (not JSON, a crossed book, no price) is dead-lettered with the reason. A
quote copied before (a redelivery) is copied again only if its effects mark says its
copies may not all be in the log; the execution step skips a copy it has applied.
"""

from __future__ import annotations

import asyncio
import logging

from faust import StreamT
from faust.types import EventT

from app.agents import BATCH_RECORDS, Ack, dead_letter
from app.faust_internals import batches, in_event
from app.main import app, orders_topic, quotes_topic, settings
from app.metrics import DUPLICATES, EVENTS_EMITTED
from app.outbox import Outbox
from app.tables.effects import Watermark
from app.topics import correlation_of
from app.trading.commands import Kind, QuoteTick, kind_headers
from app.trading.errors import InvalidQuote
from app.trading.quotes import parse_quote

log = logging.getLogger(__name__)
marks = Watermark("quotes")
HEADERS = kind_headers(Kind.QUOTE)


@app.agent(quotes_topic, name="quotes", concurrency=1)
async def process_quotes(stream: StreamT[bytes]) -> None:
    async for events in batches(stream, BATCH_RECORDS):
        await _process(events)


async def _process(events: list[EventT[bytes]]) -> None:
    sent: list[tuple[EventT[bytes], list[Ack]]] = []
    dead: list[Ack] = []
    duplicates = 0
    partitions = settings.topic_partitions
    out, orders = Outbox(), orders_topic.get_topic_name()
    for event in events:
        marks.saw(event)
        if marks.done(event):
            duplicates += 1
            continue
        msg = event.message
        try:
            quote = parse_quote(b"" if event.value is None else event.value)
            if event.key is not None and bytes(event.key) != quote.symbol.encode():
                raise InvalidQuote(quote.symbol, "the record's key is not its symbol")
        except InvalidQuote as exc:
            dead.append(await dead_letter(event, str(exc)))
            continue
        tick = QuoteTick(quote=quote, source_partition=msg.partition, source_offset=msg.offset)
        value, key = tick.dumps(), quote.symbol.encode()
        headers = HEADERS
        cid = correlation_of(event.headers)
        if cid:
            headers = {**HEADERS, "x-correlation-id": cid.encode()}
        acks: list[Ack] = [out.add(orders, key, value, headers, p) for p in range(partitions)]
        sent.append((event, acks))
    await out.send(app.producer)
    await asyncio.gather(*dead, *(ack for _, acks in sent for ack in acks))
    for event, acks in sent:
        with in_event(event):
            marks.track(event, acks)
    marks.flush()
    EVENTS_EMITTED.labels(topic="orders").inc(sum(len(a) for _, a in sent))
    if duplicates:
        DUPLICATES.labels(topic="quotes").inc(duplicates)
