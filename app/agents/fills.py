"""Consumes ``fills``: applies each fill to its position and its order, once; a batch at a
time.

Each table decides for itself whether it has a fill: the order state keeps every fill id
of its order with the offset of the record it came from; the position keeps the offset of
its last fill and its last 64 fill ids, and counts a fill its order state applied from a
record the position has already passed as seen (a copy of a fill, at any distance). The
two are separate changelog records, so a crash can leave one behind the other (a recovery
that replays an older position record): the redelivered record then brings the one
behind up to date, and is a no-op for the other.

The orders agent applies the fills it produced itself once they are acknowledged, where
every record before them is applied (``app.tables.applied_fills``); a record at or below
that marker is skipped here without being decoded.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from faust import StreamT
from faust.types import EventT

from app.agents import BATCH_RECORDS, dead_letter
from app.errors import AtStreamError, DecodeError
from app.faust_internals import batches, generation_of
from app.logs import fields
from app.main import app, fills_topic
from app.metrics import DUPLICATES, EVENTS_APPLIED
from app.models import Fill
from app.tables import applied_fills
from app.tables.batch import PartitionWrites
from app.tables.fill_step import FillStep
from app.topics import correlation_of, decode_keyed

log = logging.getLogger(__name__)


@app.agent(fills_topic, name="fills", concurrency=1)
async def process_fills(stream: StreamT[bytes]) -> None:
    async for events in batches(stream, BATCH_RECORDS):
        await _process(events)


async def _process(events: list[EventT[bytes]]) -> None:
    async with applied_fills.lock:
        bad = await _apply(events)
    await asyncio.gather(*[await dead_letter(event, reason) for event, reason in bad])


async def _apply(events: list[EventT[bytes]]) -> list[tuple[EventT[bytes], str]]:
    """Apply the batch's fills; returns the records to dead-letter, with the reason."""
    writes = PartitionWrites()
    bad: list[tuple[EventT[bytes], str]] = []
    duplicates = 0
    topic = fills_topic.get_topic_name()
    step = FillStep(writes)  # each position and order state decoded and encoded once
    handled: dict[tuple[int, int | None], int] = {}  # (partition, generation) -> last offset
    for event in events:  # no await in here: the tables are read and staged as one
        partition = event.message.partition  # the position's and order state's partition
        generation, offset = generation_of(event), event.message.offset
        handled[partition, generation] = offset
        last = applied_fills.through(partition, generation)
        if last is not None and offset <= last:
            continue  # the orders agent applied it
        try:
            fill = decode_keyed(Fill, topic, event.key, event.value)
            cid = correlation_of(event.headers)
            applied = step.apply(partition, cast(bytes, event.key), fill, offset, cid)
        except DecodeError as exc:
            bad.append((event, exc.reason))
            continue
        except AtStreamError as exc:  # mismatch, overfill, a transition that cannot be
            bad.append((event, f"{type(exc).__name__}: {exc}"))
            continue
        if not applied:
            duplicates += 1
        log.debug("fill applied", extra=fields(correlation_id=cid, fill_id=fill.fill_id))
    step.stage()
    writes.write_local()
    await writes.send(app.producer)
    for (partition, generation), offset in handled.items():
        applied_fills.advance(partition, generation, offset)
    if step.applied:
        EVENTS_APPLIED.labels(table="positions").inc(step.applied)
    if duplicates:
        DUPLICATES.labels(topic="fills").inc(duplicates)
    return bad
