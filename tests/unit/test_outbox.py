"""``app.outbox``: keys land where aiokafka's default partitioner puts them. Pure parts;
the broker round trip is ``tests/integration/test_outbox.py``."""

from __future__ import annotations

import asyncio

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from app.outbox import Outbox, partition_for


@given(st.binary(min_size=0, max_size=64), st.integers(min_value=1, max_value=64))
def test_a_key_goes_where_the_default_partitioner_sends_it(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert partition_for(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_added_records_are_counted_and_headers_taken_as_a_mapping_or_pairs() -> None:
    async def run() -> None:
        out = Outbox()
        a = out.add("t", b"k", b"v", {"h": b"1"})
        b = out.add("u", None, b"v", [("h", b"2")], partition=3)
        assert len(out) == 2 and not a.done() and not b.done()
        assert out._topics["t"][0][2] == [("h", b"1")]
        assert out._topics["u"][0][2:4] == ([("h", b"2")], 3)

    asyncio.run(run())
