"""The topic tap on a real broker: start positions, partitions, --max, --follow, the CLI."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.tap import TABLE_HEADER, StartAt, TapRecord, main, tap
from tests.integration.support import unique

COUNT = 10
PARTITIONS = 2
TEXT_AT = 7  # the one record whose value is not JSON


@dataclass(frozen=True)
class Tapped:
    bootstrap: str
    topic: str
    base_ms: int

    def time_of(self, i: int) -> datetime:
        return datetime.fromtimestamp((self.base_ms + 1000 * i) / 1000, UTC)


def _value(i: int) -> bytes:
    if i == TEXT_AT:
        return b"plain text \xff"
    return json.dumps({"seq": i, "amount": f"{i}.50"}).encode()


def _where(i: int) -> tuple[int, int]:
    """(partition, offset) of record i: round robin over the partitions."""
    return i % PARTITIONS, i // PARTITIONS


async def _produce(bootstrap: str, topic: str, indices: range, base_ms: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in indices:
            await producer.send_and_wait(
                topic,
                _value(i),
                key=f"key-{i}".encode(),
                partition=_where(i)[0],
                timestamp_ms=base_ms + 1000 * i,
                headers=[("x-seq", str(i).encode()), ("x-correlation-id", b"corr-tap")],
            )
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
async def tapped(kafka: str) -> AsyncIterator[Tapped]:
    """A fresh two-partition topic holding 10 records, deleted afterwards."""
    topic = unique("tap")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
        base_ms = (int(time.time()) - 600) * 1000
        await _produce(kafka, topic, range(COUNT), base_ms)
        yield Tapped(kafka, topic, base_ms)
    finally:
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


def _check(record: TapRecord, tapped: Tapped) -> int:
    """Check everything about a record; return its index."""
    i = int(record.headers["x-seq"])
    assert record.topic == tapped.topic
    assert (record.partition, record.offset) == _where(i)
    assert record.key == f"key-{i}"
    assert record.headers == {"x-seq": str(i), "x-correlation-id": "corr-tap"}
    assert record.timestamp == tapped.time_of(i)
    if i == TEXT_AT:
        assert record.value == "plain text \ufffd"
    else:
        assert record.value == {"seq": i, "amount": f"{i}.50"}
    return i


async def _read(
    tapped: Tapped,
    start: StartAt = None,
    *,
    partitions: list[int] | None = None,
    follow: bool = False,
    max_records: int | None = None,
) -> list[int]:
    """Tap ``tapped``, check every record, return their indices, sorted."""
    records = [
        r
        async for r in tap(
            tapped.topic,
            bootstrap=tapped.bootstrap,
            start=start,
            partitions=partitions,
            follow=follow,
            max_records=max_records,
        )
    ]
    for p in range(PARTITIONS):  # each partition in offset order
        offsets = [r.offset for r in records if r.partition == p]
        assert offsets == sorted(offsets)
    return sorted(_check(r, tapped) for r in records)


async def test_from_the_beginning(tapped: Tapped) -> None:
    assert await _read(tapped) == list(range(COUNT))


async def test_from_an_offset(tapped: Tapped) -> None:
    assert await _read(tapped, 3) == [6, 7, 8, 9]


async def test_an_offset_past_the_end_reads_nothing(tapped: Tapped) -> None:
    assert await _read(tapped, 1000) == []


async def test_since_a_time(tapped: Tapped) -> None:
    assert await _read(tapped, tapped.time_of(5)) == [5, 6, 7, 8, 9]
    just_after_4 = tapped.time_of(4) + timedelta(milliseconds=1)
    assert await _read(tapped, just_after_4) == [5, 6, 7, 8, 9]
    assert await _read(tapped, datetime.now(UTC) + timedelta(hours=1)) == []


async def test_selected_partitions_and_max(tapped: Tapped) -> None:
    assert await _read(tapped, partitions=[1]) == [1, 3, 5, 7, 9]
    assert await _read(tapped, partitions=[1], max_records=2) == [1, 3]
    assert len(await _read(tapped, max_records=4)) == 4


async def test_follow_sees_new_records(tapped: Tapped) -> None:
    topic = unique("tap-follow")
    admin = AIOKafkaAdminClient(bootstrap_servers=tapped.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
        follow = Tapped(tapped.bootstrap, topic, tapped.base_ms)
        await _produce(follow.bootstrap, topic, range(2), follow.base_ms)
        reader = asyncio.create_task(_read(follow, follow=True, max_records=4))
        await asyncio.sleep(2)
        assert not reader.done()  # still waiting: it does not stop at the end
        await _produce(follow.bootstrap, topic, range(2, 4), follow.base_ms)
        assert await asyncio.wait_for(reader, 30) == [0, 1, 2, 3]
    finally:
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


async def test_the_command(tapped: Tapped, capsys: pytest.CaptureFixture[str]) -> None:
    base = [tapped.topic, "--bootstrap", tapped.bootstrap]
    assert await asyncio.to_thread(main, [*base, "--offset", "4", "--partition", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["key-8"]

    assert await asyncio.to_thread(main, [*base, "--format", "table", "--max", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == TABLE_HEADER and len(lines) == 4

    since = tapped.time_of(8).isoformat()
    assert await asyncio.to_thread(main, [*base, "--since", since]) == 0
    keys = {json.loads(line)["key"] for line in capsys.readouterr().out.splitlines()}
    assert keys == {"key-8", "key-9"}


async def test_the_command_refuses_an_unknown_topic(
    tapped: Tapped, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [unique("missing"), "--bootstrap", tapped.bootstrap]
    assert await asyncio.to_thread(main, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    argv = [tapped.topic, "--partition", "5", "--bootstrap", tapped.bootstrap]
    assert await asyncio.to_thread(main, argv) == 2
    assert "has no partition 5" in capsys.readouterr().err
