"""One batch's records to produce, sent as one Kafka record batch per partition.

aiokafka's ``send`` costs about 10 µs of CPU per record here: a future, the accumulator's
per-record bookkeeping, the key's partition hashed again. An agent's batch knows all its
records at once, so the outbox collects them (``add``), then ``send`` builds each
partition's record batch directly and submits it with ``send_batch``: about 6 µs a record
(``python -m bench.produce_path``; ``bench/METHOD.md``, "Producing per batch").
Each record still gets its own future,
resolved with its own ``RecordMetadata`` (offset = the batch's base offset plus the
record's place in it), so a caller awaits and inspects acknowledgements as it did with
``send``.

What does not change: records are partitioned as aiokafka's default partitioner does
(murmur2 of the key over the topic's sorted partitions; a record without a key goes to a
random partition), so a key's records land where ``topic.send`` would put them. A
partition's records keep the order they were added in, and aiokafka's sender keeps one
request in flight per partition. Acks, retries and idempotence are the producer's own.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import random
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka.partitioner import murmur2
from aiokafka.structs import RecordMetadata, TopicPartition

from app.faust_internals import kafka_producer

Headers = Mapping[str, bytes] | Sequence[tuple[str, bytes]] | None


@functools.lru_cache(maxsize=1 << 16)
def _hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """The partition aiokafka's default partitioner gives ``key`` (``partitions`` sorted)."""
    return partitions[_hash(key) % len(partitions)]


class Outbox:
    """Records added over one batch; ``send`` submits them all."""

    __slots__ = ("_topics",)

    def __init__(self) -> None:
        self._topics: dict[str, list[tuple[Any, ...]]] = {}

    def __len__(self) -> int:
        return sum(len(records) for records in self._topics.values())

    def add(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = None,
        partition: int | None = None,
    ) -> asyncio.Future[RecordMetadata]:
        """Queue one record; its future resolves once ``send`` has it acknowledged."""
        if isinstance(headers, Mapping):
            headers = list(headers.items())
        ack: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        records = self._topics.get(topic)
        if records is None:
            records = self._topics[topic] = []
        records.append((key, value, headers, partition, ack))
        return ack

    async def send(self, producer: Any) -> None:
        """Submit every record added with Faust's ``producer`` (see :meth:`send_with`)."""
        await self.send_with(kafka_producer(producer))

    async def send_with(self, kafka: Any) -> None:
        """Submit every record added with an aiokafka producer, one record batch per
        partition, in the order added. Returns once the batches are queued, not acked."""
        topics, self._topics = self._topics, {}
        try:
            for topic, records in topics.items():
                await _send_topic(kafka, topic, records)
        except BaseException:
            for records in topics.values():  # what was not queued will never resolve
                for record in records:
                    record[4].cancel()
            raise


async def _send_topic(kafka: Any, topic: str, records: list[tuple[Any, ...]]) -> None:
    by_partition: dict[int, list[tuple[Any, ...]]] = {}
    partitions: list[int] | None = None
    for record in records:
        partition = record[3]
        if partition is None:
            if partitions is None:
                partitions = sorted(await kafka.partitions_for(topic))
            key = record[0]
            partition = random.choice(partitions) if key is None else partition_for(key, partitions)
        group = by_partition.get(partition)
        if group is None:
            group = by_partition[partition] = []
        group.append(record)
    built = {p: _build(kafka, topic, group) for p, group in by_partition.items()}
    # A partition's second batch waits until its first is sent: submit every partition's
    # first batch, then every second one, so that one partition never holds up the others.
    for turn in range(max(len(batches) for batches in built.values())):
        for partition, batches in built.items():
            if turn < len(batches):
                batch, pending = batches[turn]
                future = await kafka.send_batch(batch, topic, partition=partition)
                tp = TopicPartition(topic, partition)
                future.add_done_callback(functools.partial(_resolve, tp, pending))


Pending = list[tuple[asyncio.Future[RecordMetadata], int]]


def _build(kafka: Any, topic: str, records: list[tuple[Any, ...]]) -> list[tuple[Any, Pending]]:
    """One partition's records as closed record batches (more than one when they overflow
    the producer's ``max_batch_size``), each with its records' futures and timestamps."""
    pending: Pending = []
    batch = kafka.create_batch()
    batches = [(batch, pending)]
    for key, value, headers, _, ack in records:
        meta = batch.append(key=key, value=value, timestamp=None, headers=headers)
        if meta is None:  # full: the record starts the next one
            batch, pending = kafka.create_batch(), []
            batches.append((batch, pending))
            meta = batch.append(key=key, value=value, timestamp=None, headers=headers)
            if meta is None:
                raise ValueError(f"a record for {topic} is larger than the producer's batch")
        pending.append((ack, meta.timestamp))
    for batch, _ in batches:
        batch.close()
    return batches


def _resolve(
    tp: TopicPartition,
    pending: Pending,
    future: asyncio.Future[RecordMetadata],
) -> None:
    """Each record's metadata from its batch's (as aiokafka's ``MessageBatch.done``)."""
    if future.cancelled():
        for ack, _ in pending:
            ack.cancel()
        return
    exc = future.exception()
    if exc is not None:
        for ack, _ in pending:
            if not ack.done():
                ack.set_exception(copy.copy(exc))
        return
    meta = future.result()
    broker_time = meta.timestamp  # -1: the topic keeps each record's own (CreateTime)
    for i, (ack, timestamp) in enumerate(pending):
        if not ack.done():
            ack.set_result(
                RecordMetadata(
                    tp.topic,
                    tp.partition,
                    tp,
                    meta.offset + i,
                    timestamp if broker_time == -1 else broker_time,
                    meta.timestamp_type,
                    meta.log_start_offset,
                )
            )
