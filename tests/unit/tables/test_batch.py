"""A batch's table writes: read back before written, one write per key, changelog after."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka.structs import RecordMetadata

from app.settings import Settings
from app.tables import raw_table
from app.tables.batch import PartitionWrites


class _Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes | None]] = []

    def append(self, *, key: bytes, value: bytes | None, **_: Any) -> Any:
        self.records.append((key, value))
        return SimpleNamespace(timestamp=0)

    def close(self) -> None:
        pass


class _Producer:
    """Faust's producer around an aiokafka one that records the batches sent and
    acknowledges each at once, with increasing offsets."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None, int]] = []

    def _ensure_producer(self) -> Any:
        return self

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> Any:
        base = len(self.sent)
        self.sent.extend((topic, key, value, partition) for key, value in batch.records)
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        ack.set_result(RecordMetadata(topic, partition, None, base, -1, 0, 0))
        return ack


@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("API_KEY_HMAC_SECRET", "unit-test-secret")
    app = faust.App("batch-test", store="rocksdb://", datadir=str(tmp_path), autodiscover=False)
    return raw_table(app, "things", Settings(topic_partitions=2), "test table")


def test_reads_see_what_the_batch_staged_and_each_key_is_written_once(table: Any) -> None:
    from app.faust_internals import partition_db

    partition_db(table, 1).put(b"k", b"old")
    writes = PartitionWrites()
    assert writes.get(table, 1, b"k") == b"old"  # the database, nothing staged yet
    writes.put(table, 1, b"k", b"v1")
    writes.put(table, 1, b"k", b"v2")
    writes.put(table, 0, b"gone", None)
    assert writes.get(table, 1, b"k") == b"v2"  # the batch's own write
    assert writes.get(table, 0, b"gone") is None
    assert partition_db(table, 1).get(b"k") == b"old"  # not written until write_local
    writes.write_local()
    assert partition_db(table, 1).get(b"k") == b"v2"
    assert table.data._key_index[b"k"] == 1

    producer = _Producer()

    async def send() -> None:
        await writes.send(producer)
        await asyncio.sleep(0)  # the ack callbacks

    asyncio.run(send())
    topic = table.changelog_topic.get_topic_name()
    assert sorted(producer.sent) == sorted([(topic, b"k", b"v2", 1), (topic, b"gone", None, 0)])
    from faust.types import TP

    persisted = {p: table.data.persisted_offset(TP(topic, p)) for p in (0, 1)}
    assert set(persisted.values()) == {0, 1}  # each partition's last changelog offset
    asyncio.run(send())  # sent once: nothing left to send
    assert len(producer.sent) == 2
