"""Stream agents, one per module, each named after the topic it consumes.

Each agent takes its records in batches (``app.faust_internals.batches``), sends what they
cause with the producer directly, and waits for every acknowledgement of a batch (and
writes its tables per partition) before it takes the next: Faust acknowledges a batch's
records, and so may commit their offsets, only then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from faust.types import EventT, TopicT

from app.book import Book
from app.main import app, dead_letter_topic
from app.metrics import DEAD_LETTERS, EVENTS_APPLIED
from app.models import DeadLetter
from app.tables import order_states, positions
from app.tables.batch import TableWrites
from app.topics import Headers

log = logging.getLogger(__name__)

BATCH_RECORDS = 1000
"""The most records an agent takes at once."""

Ack = Awaitable[Any]
"""A produced record's acknowledgement (resolves to its RecordMetadata)."""


def offset_of(ack: Ack) -> int:
    """The offset of an acknowledged record (its send's future is done)."""
    assert isinstance(ack, asyncio.Future) and ack.done()
    offset: int = ack.result().offset
    return offset


def timestamp_of(ack: Ack) -> int:
    """The broker timestamp (ms; CreateTime, set by our producer) of an acknowledged record."""
    assert isinstance(ack, asyncio.Future) and ack.done()
    stamp: int = ack.result().timestamp
    return stamp


async def produce(topic: TopicT, key: bytes | None, value: bytes, headers: Headers) -> Ack:
    """Send one record (partitioned by its key, as Faust would); the ack, not awaited."""
    if headers is not None and not isinstance(headers, list):
        headers = list(dict(headers).items())
    ack: Ack = await app.producer.send(topic.get_topic_name(), key, value, None, None, headers)
    return ack


async def dead_letter(event: EventT[bytes], reason: str) -> Ack:
    """Send an unprocessable record to the dead-letter topic, with the reason."""
    msg = event.message
    record = DeadLetter(
        source_topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        reason=reason,
        key=None if msg.key is None else bytes(msg.key).decode("utf-8", "replace"),
        value="" if msg.value is None else bytes(msg.value).decode("utf-8", "replace"),
    )
    DEAD_LETTERS.labels(source=msg.topic).inc()
    log.warning("dead-lettered %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, reason)
    return await produce(dead_letter_topic, msg.key, record.dumps(), msg.headers)


def book_for(partition: int) -> Book:
    """The order states and positions of one partition, read as the batch needs them."""
    return Book(
        lambda order_id: order_states.get_in(partition, order_id),
        lambda key: positions.get_in(partition, key),
    )


def stage_book(writes: TableWrites, partition: int, book: Book) -> None:
    """Stage every order state and position ``book`` changed, in ``partition``."""
    for state in book.states.values():
        order_states.stage(writes, partition, state)
    for position in book.positions.values():
        positions.stage(writes, partition, position)
    if book.applied:
        EVENTS_APPLIED.labels(table="positions").inc(book.applied)
