"""Scenario 7: failover of two workers, without and with a standby replica.

For each ``AT_STREAM_STANDBY_REPLICAS`` in (0, 1): a fresh app id gets its positions
changelog filled with N keys (as in scenario 6). Worker A starts alone and restores all
of it; worker B joins and takes half the partitions. With a standby, B also keeps a
copy of A's half, and the scenario waits until that copy has caught up (the persisted
changelog offsets in B's RocksDB files, opened read-only, near the topic's end). Then A
gets SIGTERM. Figure: seconds from A's SIGTERM until B answers ``/readyz`` with every
partition that A had (tables recovered). Without a standby B must first read A's half
of the changelog; with one it only replays what its copy lacks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.kafka_io import Offsets, preload
from bench.scenarios import Context, not_measured
from bench.scenarios.recovery import changelog_topic, create_changelog, position_records
from bench.stack import WorkerProc, unique

log = logging.getLogger(__name__)

OFFSET_KEY = b"__faust\0offset__"  # where Faust's RocksDB store keeps a partition's offset
STANDBY_BUFFER = 1000  # Faust's default standby_buffer_size (= recovery_buffer_size)


async def partitions_ready(http: aiohttp.ClientSession, worker: WorkerProc) -> int | None:
    """The worker's assigned partition count if ``/readyz`` says ready, else None."""
    try:
        async with http.get(worker.url + "/readyz") as resp:
            if resp.status != 200:
                return None
            body: dict[str, Any] = await resp.json()
            return int(body["partitions"])
    except (aiohttp.ClientError, TimeoutError):
        return None


async def wait_partitions(
    http: aiohttp.ClientSession, worker: WorkerProc, want: Any, timeout: float
) -> int:
    """Poll ``/readyz`` until ready with a partition count ``want(count)`` accepts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = await partitions_ready(http, worker)
        if count is not None and want(count):
            return count
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{worker.prefix} not ready as wanted in {timeout:.0f}s")


def persisted_offsets(data: Path, table: str) -> dict[int, int]:
    """Per partition, the changelog offset a worker's RocksDB copy of ``table`` holds."""
    from rocksdict import AccessType, Options, Rdict

    out: dict[int, int] = {}
    for path in data.glob(f"**/tables/{table}-*.db"):
        partition = int(path.name.removesuffix(".db").rsplit("-", 1)[1])
        try:
            db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only())
        except Exception as exc:  # being created: not there yet
            log.debug("cannot read %s yet: %s", path, exc)
            continue
        try:
            raw = db.get(OFFSET_KEY)
        finally:
            db.close()
        if raw is not None:
            out[partition] = int(raw)
    return out


async def wait_caught_up(worker: WorkerProc, ends: dict[int, int], timeout: float) -> float:
    """Seconds until the worker's copy of every positions partition stopped short of ``ends``.

    Faust applies standby records in batches of the table's ``standby_buffer_size``
    (1,000) and keeps the rest in memory until the next batch fills or a rebalance
    flushes it: "caught up" is every partition within that of its end, and no longer
    moving.
    """
    started = time.monotonic()
    last: dict[int, int] = {}
    while time.monotonic() - started < timeout:
        held = await asyncio.to_thread(persisted_offsets, worker.data, "positions")
        near = all(held.get(p, -1) >= end - 1 - STANDBY_BUFFER for p, end in ends.items())
        if near and held == last:
            return time.monotonic() - started
        last = held
        await asyncio.sleep(0.5)
    raise RuntimeError(f"standby of {worker.prefix} did not catch up in {timeout:.0f}s")


async def _one(ctx: Context, keys: int, standby: int) -> dict[str, Any]:
    prefix = unique(f"failover{standby}")
    topic = changelog_topic(prefix)
    await create_changelog(ctx.bootstrap, topic)
    await preload(ctx.bootstrap, topic, position_records(keys))
    async with Offsets(ctx.bootstrap) as offsets:
        ends = await offsets.ends(topic)
    settings = {"AT_STREAM_STANDBY_REPLICAS": str(standby)}
    a = ctx.stack.worker(prefix, settings=settings)
    b = ctx.stack.worker(prefix, start=False, settings=settings)
    timeout = ctx.mode.recovery_timeout
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3.0))
    try:
        await a.wait_ready(timeout=timeout)
        alone = await wait_partitions(http, a, lambda n: n > 0, timeout)
        ctx.progress("failover", f"standby {standby}: A has all {alone} partitions; B joins")
        b.start()
        await wait_partitions(http, b, lambda n: 0 < n < alone, timeout)
        await wait_partitions(http, a, lambda n: 0 < n < alone, timeout)
        caught_up = None
        if standby:
            caught_up = await wait_caught_up(b, ends, timeout)
        stopped = time.monotonic()
        assert a.proc is not None
        a.proc.terminate()
        await asyncio.to_thread(a.proc.wait, 30)
        exited = time.monotonic()
        await wait_partitions(http, b, lambda n: n >= alone, timeout)
        took = time.monotonic() - stopped
    finally:
        await http.close()
        a.stop()
        b.stop()
    ctx.progress("failover", f"standby {standby}: B ready {took:.2f}s after A's SIGTERM")
    return {
        "standby_replicas": standby,
        "keys": keys,
        "partitions_alone": alone,
        "standby_caught_up_s": None if caught_up is None else round(caught_up, 2),
        "a_shutdown_s": round(exited - stopped, 3),
        "failover_s": round(took, 3),
        "after_exit_s": round(took - (exited - stopped), 3),
    }


async def run(ctx: Context) -> dict[str, Any]:
    if not ctx.mode.failover_keys:
        return not_measured("no failover in this mode")
    runs = [await _one(ctx, ctx.mode.failover_keys, standby) for standby in (0, 1)]
    without, with_ = runs
    return {
        "status": "measured",
        "keys": ctx.mode.failover_keys,
        "runs": runs,
        "standby_0_s": without["failover_s"],
        "standby_1_s": with_["failover_s"],
        "ratio": round(with_["failover_s"] / max(without["failover_s"], 1e-3), 2),
    }
