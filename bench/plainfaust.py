"""The chain in plain per-record Faust: the baseline the batch agents are measured against.

``python -m bench.plainfaust --bootstrap B --group G --datadir D SRC MID DST`` runs three
agents as Faust's documentation writes them: ``async for`` over each record, ``await
topic.send`` for each produced record, ``table[key] = value`` for each write, with the
project's pure logic (signal -> order -> fill, order states, positions) and the worker's
producer settings (acks=all, linger 1 ms). Nothing else: no dead letters, no effects
ledger, no dedupe beyond what the pure functions do.
"""

from __future__ import annotations

import argparse
import logging
import sys

import faust
from faust import StreamT

from app import order_state
from app.execution import immediate_fill, order_for
from app.models import Fill, Order, Signal
from app.order_state import OrderState
from app.positions import Position, apply_fill

log = logging.getLogger(__name__)


def build(bootstrap: str, group: str, datadir: str, names: list[str]) -> faust.App:
    app = faust.App(
        group, broker=f"kafka://{bootstrap}", store="rocksdb://", datadir=datadir,
        producer_acks=-1, producer_linger_ms=1, consumer_auto_offset_reset="earliest",
        topic_partitions=4, web_enabled=False,
    )  # fmt: skip
    src, mid, dst = (app.topic(n, key_type=bytes, value_type=bytes, value_serializer="raw")
                     for n in names)  # fmt: skip
    states = app.Table("order-states", key_type=str, value_type=bytes)
    positions = app.Table("positions", key_type=bytes, value_type=bytes)
    for table in (states, positions):
        setattr(table, "value_serializer", "raw")  # noqa: B010 - not in TableT's type

    @app.agent(src)
    async def signals(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            order = order_for(Signal.model_validate_json(event.value))
            await mid.send(key=event.key, value=order.dumps(), headers=event.headers)

    @app.agent(mid)
    async def orders(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            order = Order.model_validate_json(event.value)
            states[order.order_id] = order_state.accept(order, "", event.message.offset).dumps()
            fill = immediate_fill(order)
            await dst.send(key=event.key, value=fill.dumps(), headers=event.headers)

    @app.agent(dst)
    async def fills(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            fill = Fill.model_validate_json(event.value)
            raw = positions.get(event.key)
            position, _ = apply_fill(
                None if raw is None else Position.loads(raw), fill, offset=event.message.offset
            )
            positions[event.key] = position.dumps()
            state = OrderState.loads(states[fill.order_id])
            states[fill.order_id] = order_state.apply_fill(state, fill)[0].dumps()

    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--datadir", required=True)
    p.add_argument("topics", nargs=3, metavar="TOPIC", help="signals, orders, fills")
    args = p.parse_args()
    app = build(args.bootstrap, args.group, args.datadir, args.topics)
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
