"""The partition a table key is written in is the one Kafka's default partitioner gives."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from app.tables import partition_of


def test_partition_of_is_kafkas_default_partitioner() -> None:
    for partitions in (1, 4, 7, 12):
        all_partitions = list(range(partitions))
        for i in range(500):
            key = f"engine:idem:key-{i}".encode()
            expected = DefaultPartitioner()(key, all_partitions, all_partitions)
            assert partition_of(key, partitions) == expected
