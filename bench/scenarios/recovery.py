"""Scenario 6: cold recovery of the positions table (100k and 1M keys in full mode).

For each size, a fresh app id gets its ``<app id>-positions-changelog`` topic (compacted,
the app's partition count) filled straight with N distinct ``account|symbol`` keys and
valid ``Position`` values (made by the app's own model). Then a worker is launched on an
empty data dir: Faust restores the table from the changelog into RocksDB, and
``/readyz`` answers 200 only once recovery is complete. Figure: launch -> ready (cold).
Also measured: the same worker restarted on its now filled data dir (warm), and the
worker's peak RSS while recovering.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench import resources
from bench.kafka_io import Record, preload
from bench.scenarios import Context, not_measured
from bench.stack import ROOT, unique

log = logging.getLogger(__name__)

POSITIONS = ROOT / "app" / "tables" / "positions.py"
TABLE = "positions"
PER_ACCOUNT = 100  # symbols per account
ACCOUNT_MARK, SYMBOL_MARK = "acct-AAAAAAAA", "SBB"


def changelog_topic(app_id: str) -> str:
    return f"{app_id}-{TABLE}-changelog"  # Faust's name for a table's changelog


def position_records(count: int) -> Iterator[Record]:
    """``count`` distinct positions: a template by the app's model, names substituted."""
    from app.positions import Position  # the app's model, imported only when measured

    template = (
        Position.flat(ACCOUNT_MARK, SYMBOL_MARK)
        .model_copy(
            update={
                "quantity": Decimal("10"),
                "avg_price": Decimal("187.25"),
                "cost_basis": Decimal("1872.5"),
                "updated_at": datetime.now(UTC),
                "fills_applied": 1,
                "applied": ("6f3c1e52-3b8e-4f0c-9a57-9d9d3c1c2a10",),
            }
        )
        .dumps()
    )
    Position.loads(template)  # still valid for the app's model
    acct, sym = ACCOUNT_MARK.encode(), f'"{SYMBOL_MARK}"'.encode()
    for i in range(count):
        account = f"acct-{i // PER_ACCOUNT:08d}"
        symbol = f"S{i % PER_ACCOUNT:02d}"
        value = template.replace(acct, account.encode()).replace(sym, f'"{symbol}"'.encode())
        yield f"{account}|{symbol}".encode(), value, []


def _stamp(line: str) -> datetime | None:
    try:
        return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    except ValueError:
        return None


def restore_seconds(log_text: str) -> float | None:
    """Seconds between Faust's first "Restoring state" and "Done reading" log lines."""
    start = end = None
    for line in log_text.splitlines():
        if start is None and "Restoring state from changelog topics" in line:
            start = _stamp(line)
        elif start is not None and "Done reading from changelog topics" in line:
            end = _stamp(line)
            break
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def fast_restore_seconds(log_text: str) -> float | None:
    """The first cold start's ``app.restore`` time, from its "fast restore: ..." line."""
    found = re.search(
        r"fast restore: \d+ changelog records into \d+ partitions in ([\d.]+)s", log_text
    )
    return float(found.group(1)) if found else None


async def create_changelog(bootstrap: str, topic: str, partitions: int = 4) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        config = {"cleanup.policy": "compact"}
        await admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=config)])
    finally:
        await admin.close()


async def spot_check(url: str, count: int) -> None:
    """The first, middle and last positions are served once the worker is ready."""
    async with aiohttp.ClientSession() as http:
        for i in sorted({0, count // 2, count - 1}):
            path = f"/positions/acct-{i // PER_ACCOUNT:08d}/S{i % PER_ACCOUNT:02d}"
            async with http.get(url + path) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"after recovery GET {path}: {resp.status}")


async def _size(ctx: Context, keys: int) -> dict[str, Any]:
    prefix = unique("recov")
    topic = changelog_topic(prefix)
    await create_changelog(ctx.bootstrap, topic)
    count, load_s = await preload(ctx.bootstrap, topic, position_records(keys))
    ctx.progress("recovery", f"{keys:,} keys written to {topic} in {load_s:.1f}s; cold start")
    worker = ctx.stack.worker(prefix, start=False)
    sampler = resources.Sampler({})
    try:
        worker.start()
        sampler = resources.Sampler({"worker": worker.pid})
        with sampler:
            cold = await worker.wait_ready(timeout=ctx.mode.recovery_timeout, poll=0.1)
        await spot_check(worker.url, keys)
        worker.stop()
        worker.start()
        warm = await worker.wait_ready(timeout=ctx.mode.recovery_timeout, poll=0.1)
    finally:
        worker.stop()
    text = worker.log_path.read_text(errors="replace")
    rss = sampler.summary().get("worker", {})
    ctx.progress(
        "recovery", f"{keys:,} keys: cold {cold:.2f}s, warm {warm:.2f}s, RSS {rss.get('max_mb')}"
    )
    return {
        "keys": count,
        "preload_seconds": round(load_s, 2),
        "ready_s": round(cold, 3),
        "warm_restart_ready_s": round(warm, 3),
        "keys_per_s": round(count / cold, 1),
        "worker_rss_max_mb": rss.get("max_mb"),
        "fast_restore_s": fast_restore_seconds(text),  # app.restore, before Faust's
        "restore_read_s": restore_seconds(text),  # Faust's own "restoring" to "done reading"
        "changelog_in_worker_log": topic in text,
    }


async def run(ctx: Context) -> dict[str, Any]:
    if not POSITIONS.exists():
        return not_measured("positions table not built yet (issue 4)")
    out: dict[str, Any] = {"status": "measured", "sizes": []}
    for keys in ctx.mode.recovery_keys:
        result = await _size(ctx, keys)
        out["sizes"].append(result)
        if keys == 100_000:
            out["keys_100k"] = result
        if keys == 1_000_000:
            out["keys_1m"] = result
    return out
