"""Stream agents, one per module, each named after the topic it consumes.

Each agent takes its records in batches (``app.faust_internals.batches``: every record
its channel holds, up to ``BATCH_RECORDS``), runs the pure logic over them, queues what
they cause in an outbox (``app.outbox``: one record batch per partition, sent with the
producer directly) and awaits the batch's acknowledgements once. ``produce`` sends one
record on its own (the rare ones: dead letters, commands from the HTTP API, clock ticks).
Faust acknowledges a batch's records, and so may commit their
offsets, only after the agent has finished with the batch: an offset is committed after
what its record caused is acknowledged (Faust also flushes the producer, table changelog
records included, before it commits).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from faust.types import EventT, TopicT

from app.main import app, dead_letter_topic
from app.metrics import DEAD_LETTERS
from app.models import DeadLetter

log = logging.getLogger(__name__)

BATCH_RECORDS = 1000
"""The most records an agent takes at once."""

Ack = Awaitable[Any]
"""A produced record's acknowledgement (an asyncio future of its RecordMetadata)."""


async def produce(
    topic: TopicT,
    key: bytes | None,
    value: bytes,
    headers: dict[str, bytes] | Any,
    partition: int | None = None,
) -> Ack:
    """Send one record, partitioned by its key as Faust's ``topic.send`` does (aiokafka's
    default partitioner) unless ``partition`` is given; returns its acknowledgement, not
    awaited. About a tenth of the cost of ``topic.send``, which wraps each record in
    Faust's own message machinery."""
    if headers is not None and not isinstance(headers, list):
        headers = list(dict(headers).items())
    name = topic.get_topic_name()
    ack: Ack = await app.producer.send(name, key, value, partition, None, headers)
    return ack


async def dead_letter(event: EventT[bytes], reason: str) -> Ack:
    """Send an unprocessable record to the dead-letter topic, with the reason; returns the
    send's acknowledgement for the caller to await with its batch."""
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
