"""Plain aiokafka helpers of the bench: topics, fast preload, offsets, reads."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import ConsumerRecord

log = logging.getLogger(__name__)

Record: TypeAlias = tuple[bytes, bytes, list[tuple[str, bytes]]]  # key, value, headers
KafkaRecord: TypeAlias = ConsumerRecord[bytes, bytes]


async def create_topics(bootstrap: str, names: Sequence[str], partitions: int = 4) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if new:
            with suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
    finally:
        await admin.close()


async def preload(bootstrap: str, topic: str, records: Iterable[Record]) -> tuple[int, float]:
    """Write ``records`` as fast as aiokafka goes (acks=1, big batches): (count, seconds)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=20,
        max_batch_size=1 << 20,
        max_request_size=4 << 20,
    )
    await producer.start()
    started = time.monotonic()
    count = 0
    pending: list[asyncio.Future[Any]] = []
    try:
        for key, value, headers in records:
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
            count += 1
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    return count, time.monotonic() - started


class Offsets:
    """A long-lived consumer for end offsets and first/last records of topics."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )

    async def __aenter__(self) -> Offsets:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def partitions(self, topic: str) -> list[TopicPartition]:
        parts = self.consumer.partitions_for_topic(topic)
        if not parts:
            await self.consumer._client.force_metadata_update()
            parts = self.consumer.partitions_for_topic(topic) or set()
        return [TopicPartition(topic, p) for p in sorted(parts)]

    async def ends(self, topic: str) -> dict[int, int]:
        tps = await self.partitions(topic)
        if not tps:
            return {}
        ends = await self.consumer.end_offsets(tps)
        return {tp.partition: off for tp, off in ends.items()}

    async def total(self, topic: str) -> int:
        return sum((await self.ends(topic)).values())

    async def wait_total(
        self,
        topic: str,
        want: int,
        timeout: float,
        poll: float = 0.2,
        on_poll: Callable[[int], None] | None = None,
    ) -> int:
        """Poll until ``topic`` holds ``want`` records (or time out); the last total seen."""
        deadline = time.monotonic() + timeout
        total = await self.total(topic)
        while total < want and time.monotonic() < deadline:
            await asyncio.sleep(poll)
            total = await self.total(topic)
            if on_poll is not None:
                on_poll(total)
        return total


async def read_records(
    bootstrap: str,
    topic: str,
    start: dict[int, int] | None,
    want: int,
    timeout: float = 60.0,
) -> list[KafkaRecord]:
    """Read ``topic`` from ``start`` offsets (default: beginning) until ``want`` records."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        fetch_max_bytes=32 << 20,
        max_partition_fetch_bytes=8 << 20,
        max_poll_records=10_000,
    )
    await consumer.start()
    out: list[KafkaRecord] = []
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        deadline = time.monotonic() + timeout
        while len(out) < want and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                out.extend(records)
        if len(out) < want:
            log.warning("read %d of %d records of %s in %.0fs", len(out), want, topic, timeout)
        return out
    finally:
        await consumer.stop()


def header(record: KafkaRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return None
