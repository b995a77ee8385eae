"""The chain's ceiling: plain aiokafka moving records through two hops, no Faust.

``python -m bench.rawloop --bootstrap B --group G SRC MID DST`` consumes SRC and produces
each record (same key, value and headers) to MID, and consumes MID into DST, in one
process like the worker's two agents. Same producer settings as the worker (acks=all,
linger 1 ms); offsets are committed only after the produced batch was acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

log = logging.getLogger(__name__)


async def hop(
    bootstrap: str, group: str, src: str, dst: str, producer: AIOKafkaProducer, stop: asyncio.Event
) -> None:
    consumer = AIOKafkaConsumer(
        src,
        bootstrap_servers=bootstrap,
        group_id=f"{group}-{src}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=1000,
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            pending: list[asyncio.Future[Any]] = []
            for records in batch.values():
                for r in records:
                    headers = list(r.headers)  # the producer wants a list
                    fut = await producer.send(dst, value=r.value, key=r.key, headers=headers)
                    pending.append(fut)
            if pending:
                await asyncio.gather(*pending)
                await consumer.commit()
    finally:
        await consumer.stop()


async def run(bootstrap: str, group: str, src: str, mid: str, dst: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()
    try:
        await asyncio.gather(
            hop(bootstrap, group, src, mid, producer, stop),
            hop(bootstrap, group, mid, dst, producer, stop),
        )
    finally:
        await producer.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("topics", nargs=3, metavar="TOPIC", help="source, middle, destination")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args.bootstrap, args.group, *args.topics))


if __name__ == "__main__":
    main()
