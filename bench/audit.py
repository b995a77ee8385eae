"""``python -m bench.audit``: the audit store's insert throughput and the sink's lag.

1. Insert throughput: rows of real signal -> order -> fill chains written through the
   store's own batch write (one transaction per batch, the sink's path), on SQLite (a
   temp file, WAL, synchronous=FULL) and on a real PostgreSQL (Debian's server, a temp
   cluster), per batch size.
2. Sink lag at 1,000 signals/s: a worker with its sink on, and 3,000 records/s (one
   signal, its order and its fill per signal: the records 1,000 signals/s make) produced
   for ``--seconds`` straight onto a topic only the sink reads (the worker's dead-letters
   topic: the agents cannot run 1,000 signals/s on a small machine, and would measure
   themselves). ``at_stream_audit_lag_records`` is sampled twice a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaProducer

from app.audit.records import Row, to_row
from app.audit.store import PostgresStore, SQLiteStore, Store
from app.execution import immediate_fill, order_for
from app.ids import signal_id_for
from app.models import Side, Signal
from app.topics import CORRELATION_HEADER, derived_headers
from at_stream.testing.postgres import start_postgres
from bench.stack import Stack

T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def records(n: int) -> list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
    """(kind, key, value, headers) of signal ``i``'s signal, order and fill, for i < n."""
    out = []
    for i in range(n):
        s = Signal(symbol="AAPL", side=Side.BUY, quantity=Decimal("10"), price=Decimal("100.5"),
                   account=f"acct-{i % 50}", strategy="bench",
                   signal_id=signal_id_for(f"bench-{i}".encode()),
                   received_at=T0 + timedelta(milliseconds=i))  # fmt: skip
        o = order_for(s)
        cid = f"bench-cid-{i:010d}"
        out += [
            ("signal", s.key, s.dumps(), [(CORRELATION_HEADER, cid.encode())]),
            ("order", s.key, o.dumps(), list(derived_headers(cid, s.signal_id).items())),
            ("fill", s.key, immediate_fill(o).dumps(),
             list(derived_headers(cid, o.order_id).items())),
        ]  # fmt: skip
    return out


def rows(n_signals: int) -> list[Row]:
    out = []
    for i, (kind, key, value, headers) in enumerate(records(n_signals)):
        out.append(to_row(topic=f"bench-{kind}s", partition=i % 4, offset=i, key=key,
                          value=value, headers=headers, timestamp_ms=1_767_623_400_000 + i,
                          event_type=kind))  # fmt: skip
    return out


async def insert_rate(store: Store, data: list[Row], batch: int) -> float:
    await store.migrate()
    started = time.perf_counter()
    for i in range(0, len(data), batch):
        await store.write(data[i : i + batch])
    return len(data) / (time.perf_counter() - started)


async def throughput(n_signals: int) -> dict[str, dict[int, float]]:
    data = rows(n_signals)
    out: dict[str, dict[int, float]] = {"sqlite": {}, "postgresql": {}}
    pg = await asyncio.to_thread(start_postgres)
    try:
        for batch in (200, 2000):
            with tempfile.TemporaryDirectory() as tmp:
                lite = SQLiteStore(f"sqlite:///{tmp}/audit.db")
                out["sqlite"][batch] = await insert_rate(lite, data, batch)
                await lite.close()
            store = PostgresStore(pg.url)
            await store.migrate()
            await store.execute("TRUNCATE audit_events", [])
            out["postgresql"][batch] = await insert_rate(store, data, batch)
            await store.close()
    finally:
        await asyncio.to_thread(pg.remove)
    return out


async def lag_sum(http: aiohttp.ClientSession, url: str) -> float:
    async with http.get(url + "/metrics") as r:
        text = await r.text()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("at_stream_audit_lag_records{"))  # fmt: skip


async def lag_at(backend: str, seconds: float, rate: int = 1000) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    stack = Stack(root)
    pg = await asyncio.to_thread(start_postgres) if backend == "postgresql" else None
    try:
        stack.start_broker()
        url = pg.url if pg else f"sqlite:///{root / 'audit.db'}"
        worker = stack.worker(settings={"AT_STREAM_AUDIT_URL": url})
        await worker.wait_ready()
        payload = records(rate)  # one second's worth, sent again each second
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all", linger_ms=5)
        await producer.start()
        samples: list[float] = []
        async with aiohttp.ClientSession() as http:
            topic = worker.topics["dead-letters"]
            start = time.monotonic()
            sent = 0
            while time.monotonic() - start < seconds:
                second = time.monotonic()
                for k in range(0, len(payload), 300):  # 10 slices a second
                    for _, key, value, headers in payload[k : k + 300]:
                        await producer.send(topic, value, key=key, headers=headers)
                        sent += 1
                    await asyncio.sleep(
                        max(0.0, second + (k + 300) / len(payload) - time.monotonic())
                    )
                samples.append(await lag_sum(http, worker.url))
            await producer.flush()
            produced_for = time.monotonic() - start
            ended = time.monotonic()
            while time.monotonic() - ended < 120:
                if await lag_sum(http, worker.url) == 0:
                    break
                await asyncio.sleep(0.25)
            catch_up = time.monotonic() - ended
        await producer.stop()
        return {"records_per_s": sent / produced_for, "lag_p50": statistics.median(samples),
                "lag_max": max(samples), "catch_up_s": catch_up}  # fmt: skip
    finally:
        stack.close()
        shutil.rmtree(root, ignore_errors=True)
        if pg is not None:
            await asyncio.to_thread(pg.remove)


async def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__)
    p.add_argument("--signals", type=int, default=20_000, help="signals (x3 rows) to insert")
    p.add_argument("--seconds", type=float, default=20.0, help="load time of the lag run")
    p.add_argument("--skip-lag", action="store_true")
    args = p.parse_args()
    result: dict[str, object] = {"insert_rows_per_s": await throughput(args.signals)}
    if not args.skip_lag:
        result["lag_at_1000_signals_per_s"] = {
            b: await lag_at(b, args.seconds) for b in ("sqlite", "postgresql")
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
