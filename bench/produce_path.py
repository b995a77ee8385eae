"""``python -m bench.produce_path [--bootstrap HOST:PORT] [--records N]``: the producer's cost
per record, aiokafka's ``send`` per record against ``app.outbox`` (one record batch per
partition), both with the worker's producer settings (acks=all, linger 1 ms, 512 KiB
batches), on one 4-partition topic each, 64 keys, 600-byte values, two headers, 1,000
records per agent batch awaited at once. Prints CPU µs and wall µs per record for each,
three rounds; without ``--bootstrap`` it starts its own local Kafka in a temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.broker import LocalKafka
from app.broker.launcher import free_port
from app.outbox import Outbox

log = logging.getLogger(__name__)
VALUE = b"x" * 600
KEYS = [f"acct-{i}|AAPL".encode() for i in range(64)]
HEADERS = [("x-correlation-id", uuid.uuid4().hex.encode()), ("x-cause-id", b"0" * 36)]
BATCH = 1000


async def per_record(producer: AIOKafkaProducer, topic: str, n: int) -> None:
    for start in range(0, n, BATCH):
        acks = [
            await producer.send(topic, VALUE, key=KEYS[i % 64], headers=HEADERS)
            for i in range(start, min(n, start + BATCH))
        ]
        await asyncio.gather(*acks)


async def outbox(producer: AIOKafkaProducer, topic: str, n: int) -> None:
    for start in range(0, n, BATCH):
        out = Outbox()
        acks = [
            out.add(topic, KEYS[i % 64], VALUE, HEADERS)
            for i in range(start, min(n, start + BATCH))
        ]
        await out.send_with(producer)
        await asyncio.gather(*acks)


async def measure(bootstrap: str, n: int) -> list[dict[str, float | str]]:
    ways: dict[str, Callable[[AIOKafkaProducer, str, int], Awaitable[None]]] = {
        "send per record": per_record,
        "outbox (send_batch per partition)": outbox,
    }
    topics = {name: f"produce-path-{uuid.uuid4().hex[:8]}" for name in ways}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(t, 4, 1) for t in topics.values()])
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=1, max_batch_size=512 * 1024
    )
    await producer.start()
    rows: list[dict[str, float | str]] = []
    try:
        for topic in topics.values():
            await producer.send_and_wait(topic, b"warm-up", key=b"k")
        for round_ in range(3):
            for name, way in ways.items():
                cpu, wall = time.process_time(), time.perf_counter()
                await way(producer, topics[name], n)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                rows.append(
                    {"round": round_ + 1, "way": name,
                     "cpu_us": round(1e6 * cpu / n, 1), "wall_us": round(1e6 * wall / n, 1)}
                )  # fmt: skip
    finally:
        await producer.stop()
        await admin.delete_topics(list(topics.values()))
        await admin.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.produce_path", description=__doc__)
    p.add_argument("--bootstrap", help="use this Kafka instead of starting one")
    p.add_argument("--records", type=int, default=30_000)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="produce-path-") as tmp:
        broker = None
        bootstrap = args.bootstrap
        if bootstrap is None:
            broker = LocalKafka(Path(tmp) / "kafka", port=free_port())
            broker.start()
            bootstrap = broker.bootstrap
        try:
            rows = asyncio.run(measure(bootstrap, args.records))
        finally:
            if broker is not None:
                broker.stop()
    out = sys.stdout
    out.write(f"{args.records} records per way and round\n")
    for row in rows:
        out.write(f"round {row['round']}  {row['way']:<36} cpu {row['cpu_us']:>5} µs/record  "
                  f"wall {row['wall_us']:>5} µs/record\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
