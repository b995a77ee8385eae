"""``app.outbox`` on the real broker: each record lands in its key's partition (as a
per-record ``send`` puts it), in the order added, and its future holds its own offset."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.outbox import Outbox
from tests.integration.support import read_topic, unique

KEYS = [f"acct-{i}|AAPL".encode() for i in range(64)]


async def _topics(bootstrap: str, *names: str) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(n, 4, 1) for n in names])
    return admin


async def test_records_land_in_their_key_s_partition_in_order_with_their_offsets(
    kafka: str,
) -> None:
    batched, single = unique("outbox"), unique("outbox-single")
    admin = await _topics(kafka, batched, single)
    # small batches: each partition's records overflow into several record batches
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", max_batch_size=4096)
    await producer.start()
    try:
        n = 3000
        out = Outbox()
        acks = [
            out.add(batched, KEYS[i % 64], f"r{i}".encode() * 20, {"n": str(i).encode()})
            for i in range(n)
        ]
        acks.append(out.add(batched, b"pinned", b"to partition 2", None, partition=2))
        await out.send_with(producer)
        metas = await asyncio.gather(*acks)
        expected = {
            key: (await producer.send_and_wait(single, b"x", key=key)).partition for key in KEYS
        }

        records = await read_topic(kafka, batched, n + 1)
        assert len(records) == n + 1
        at = {(r.partition, r.offset): r for r in records}
        for i, meta in enumerate(metas[:n]):
            record = at[(meta.partition, meta.offset)]  # the future holds the record's own offset
            assert record.value == f"r{i}".encode() * 20
            assert record.headers == (("n", str(i).encode()),)
            assert meta.partition == expected[KEYS[i % 64]]
            assert meta.timestamp == record.timestamp
        assert metas[n].partition == 2 and at[(2, metas[n].offset)].value == b"to partition 2"
        per_key: dict[bytes, list[int]] = defaultdict(list)
        for r in sorted(records, key=lambda r: (r.partition, r.offset)):
            if r.key != b"pinned":
                per_key[r.key].append(int(r.value.decode()[1:].split("r")[0]))
        assert all(seq == sorted(seq) for seq in per_key.values())  # order kept per key
    finally:
        await producer.stop()
        await admin.delete_topics([batched, single])
        await admin.close()


async def test_a_producer_that_cannot_send_raises_and_leaves_no_future_pending(
    kafka: str,
) -> None:
    topic = unique("outbox-closed")
    admin = await _topics(kafka, topic)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        await producer.partitions_for(topic)
        await producer.stop()  # closed: its accumulator takes no batch
        out = Outbox()
        acks = [out.add(topic, key, b"v") for key in KEYS[:8]]
        with pytest.raises(Exception) as raised:
            await out.send_with(producer)
        assert type(raised.value).__name__ == "ProducerClosed"
        assert all(a.cancelled() for a in acks)
    finally:
        await admin.delete_topics([topic])
        await admin.close()
