"""The positions table rebuilt from ``fills`` by ``at-stream reset --execute``, before the
workers start: the fills agent's logic over a plain consumer's batches.

After a reset the agents consume every signal, order and fill again, at the chain's speed
(the execution step runs for every order). Positions depend on fills alone, so the reset
rebuilds them itself, the way the fast restore (``app.restore``) reads changelogs: a
plain aiokafka consumer reads each ``fills`` partition from its reset target to its end,
applies each record as the fills agent would (``PartitionRebuild.apply``, pure), and
produces each position's final value to the positions changelog, in the fill's
partition, acknowledged by every in-sync replica. The workers' fast restore loads that
changelog; when their fills agent reaches those records again, every position has
passed their offsets (``Position.last_offset``) and counts them as duplicates, while the
order states (which it still rebuilds, with the orders agent) get their fills.

A record the fills agent dead-letters (undecodable, another position's, an overfill)
changes no position here either; it is not dead-lettered again by the rebuild.

Memory: a position per key, the state of each order that is not completely filled, and
the id of each that is (a later record of a filled order changes no position: a copy of
one of its fills, or one the agent dead-letters).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from app import order_state
from app.errors import AtStreamError, DecodeError
from app.models import Fill
from app.order_state import OrderState, OrderStatus
from app.outbox import Outbox
from app.positions import Position, apply_fill
from app.settings import Settings
from app.topics import correlation_of, decode_keyed

Progress = Callable[[int, int, float], None]
"""``progress(done, todo, elapsed)``: called after every batch read."""


CREATE_TIMEOUT = 30.0
"""Seconds the positions changelog may take to show in the broker's metadata."""


class RebuildError(AtStreamError):
    """The positions could not be rebuilt (the reset itself is done: a worker started
    now rebuilds them from ``fills`` through its agents, slowly)."""


@dataclass
class PartitionRebuild:
    """One ``fills`` partition's positions, rebuilt record by record, in offset order."""

    topic: str
    positions: dict[bytes, Position] = field(default_factory=dict)
    open_orders: dict[str, OrderState] = field(default_factory=dict)
    filled_orders: set[str] = field(default_factory=set)
    applied: int = 0
    unchanged: int = 0
    """Copies of fills applied before, and records the fills agent dead-letters."""

    def apply(self, key: bytes | None, value: bytes | None, headers: Any, offset: int) -> None:
        """One record, as ``app.agents.fills`` applies it to the position."""
        try:
            fill = decode_keyed(Fill, self.topic, key, value)
        except DecodeError:
            self.unchanged += 1
            return
        if fill.order_id in self.filled_orders:  # a copy, or an overfill: no change
            self.unchanged += 1
            return
        assert key is not None  # decode_keyed: the key is the fill's account|symbol
        state = self.open_orders.get(fill.order_id)
        if state is None and (fill.order_quantity or fill.quantity) == fill.quantity:
            # The order's first fill, for all of it (a market order's one fill): its order
            # state (``order_state.from_fill``, then ``apply_fill``) would be filled by it,
            # with nothing to refuse, and had applied no fill before it.
            try:
                position, applied = apply_fill(self.positions.get(key), fill, offset=offset)
            except AtStreamError:  # another position's fill
                self.unchanged += 1
                return
            self._count(key, position, applied)
            self.filled_orders.add(fill.order_id)
            return
        if state is None:
            state = order_state.from_fill(fill, correlation_of(headers))
        try:
            position, applied, state = order_state.apply_fill_record(
                self.positions.get(key), state, fill, offset
            )
        except AtStreamError:  # another position's or order's fill, an overfill
            self.unchanged += 1
            return
        self._count(key, position, applied)
        if state.status is OrderStatus.FILLED:
            self.open_orders.pop(fill.order_id, None)
            self.filled_orders.add(fill.order_id)
        else:
            self.open_orders[fill.order_id] = state

    def _count(self, key: bytes, position: Position, applied: bool) -> None:
        if applied:
            self.positions[key] = position
            self.applied += 1
        else:
            self.unchanged += 1


@dataclass
class Rebuilt:
    fills: int = 0
    positions: int = 0
    read_s: float = 0.0
    written_s: float = 0.0


def changelog_topic(group: str, table: str = "positions") -> str:
    """A table's changelog, as Faust names it."""
    return f"{group}-{table}-changelog"


async def read_fills(
    settings: Settings,
    starts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    progress: Progress | None = None,
) -> dict[int, PartitionRebuild]:
    """Every record of ``fills`` from ``starts`` to ``ends``, applied, per partition."""
    parts = {tp.partition: PartitionRebuild(tp.topic) for tp in starts}
    todo = {tp: end for tp, end in ends.items() if starts[tp] < end}
    if not todo:
        return parts
    total = sum(todo[tp] - starts[tp] for tp in todo)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    started, done = time.monotonic(), 0
    try:
        consumer.assign(list(todo))
        for tp in todo:
            consumer.seek(tp, starts[tp])
        while todo:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, records in batch.items():
                part = parts[tp.partition]
                end = ends[tp]
                for r in records:
                    if r.offset < end:  # written after the reset planned: the agents' part
                        part.apply(r.key, r.value, r.headers, r.offset)
                        done += 1
            for tp in [tp for tp in todo if await consumer.position(tp) >= todo[tp]]:
                del todo[tp]
                consumer.pause(tp)
            if progress is not None:
                progress(done, total, time.monotonic() - started)
    finally:
        await consumer.stop()
    return parts


async def write_positions(
    settings: Settings, group: str, parts: Iterable[tuple[int, PartitionRebuild]]
) -> int:
    """Create the positions changelog (as Faust does: compacted) and produce every
    position into its partition; returns how many, once all are acknowledged."""
    topic = changelog_topic(group)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        new = NewTopic(
            topic,
            settings.topic_partitions,
            settings.topic_replication_factor,
            topic_configs={"cleanup.policy": "compact"},
        )
        await ensure_topic(admin, new)
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        out = Outbox()
        acks = [
            out.add(topic, key, position.dumps(), None, partition)
            for partition, part in parts
            for key, position in part.positions.items()
        ]
        await out.send_with(producer)
        await asyncio.gather(*acks)
        return len(acks)
    finally:
        await producer.stop()


async def ensure_topic(admin: Any, new: NewTopic, timeout: float = CREATE_TIMEOUT) -> None:
    """Create ``new`` unless it exists, and wait until the broker's metadata shows it.

    Right after the reset deleted the old changelog, a create can meet it still marked
    for deletion (already exists), and a created topic can be missing from the metadata
    for a moment (seen under load, 2026-12-04): so create again until it is listed."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([new])
        if new.name in await admin.list_topics():
            return
        if time.monotonic() > deadline:
            raise RebuildError(f"{new.name} could not be created within {timeout:.0f}s")
        await asyncio.sleep(0.25)


async def rebuild_positions(
    settings: Settings,
    group: str,
    starts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    progress: Progress | None = None,
) -> Rebuilt:
    """``read_fills``, then ``write_positions``: the positions changelog as the fills
    agent would leave it after reading ``fills`` from ``starts`` to ``ends``."""
    started = time.monotonic()
    parts = await read_fills(settings, starts, ends, progress)
    read = time.monotonic()
    written = await write_positions(settings, group, sorted(parts.items()))
    return Rebuilt(
        fills=sum(p.applied + p.unchanged for p in parts.values()),
        positions=written,
        read_s=read - started,
        written_s=time.monotonic() - read,
    )
