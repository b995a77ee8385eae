"""Scenario 1: webhook max throughput, closed loop, against the bare-handler ceiling."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiokafka import AIOKafkaProducer

from bench import baselines, resources
from bench.kafka_io import Offsets, create_topics
from bench.load import ClosedLoop, closed_loop
from bench.payloads import presign
from bench.resources import MB
from bench.scenarios import Context
from bench.stats import ratio, summary_ms

log = logging.getLogger(__name__)

# Requests signed per measured second: more than each server could take here.
PRESIGN_PER_SECOND = {"at-stream": 8000, "bare": 25000}


async def broker_ack(bootstrap: str, topic: str, seconds: float) -> dict[str, float | int]:
    """Round trip of one produce with acks=all (the worker's producer settings), c=1.

    The floor under the webhook's latency: it waits for two such acks per request
    (the signal, then the delivery record).
    """
    await create_topics(bootstrap, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()
    times: list[float] = []
    try:
        await producer.send_and_wait(topic, b"warm-up", key=b"k")
        deadline = time.perf_counter() + min(seconds, 3.0)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await producer.send_and_wait(topic, b"x" * 400, key=b"bench-0|AAPL")
            times.append(time.perf_counter() - started)
    finally:
        await producer.stop()
    return summary_ms(times)


async def _level(ctx: Context, url: str, concurrency: int, tag: str) -> ClosedLoop:
    mode = ctx.mode
    count = int((mode.webhook_seconds + mode.warmup_seconds) * PRESIGN_PER_SECOND[tag])
    requests = presign(f"{ctx.run_id}w{tag}{concurrency}", count)
    result = await closed_loop(
        url + "/webhook/signals", requests, concurrency, mode.webhook_seconds, mode.warmup_seconds
    )
    r = result.as_dict()
    ctx.progress(
        "webhook",
        f"{tag:9s} c={concurrency:<3d} {r['accepted_per_s']:8.0f} req/s  "
        f"p50 {r['latency_ms'].get('p50', 0):.2f} ms  p99 {r['latency_ms'].get('p99', 0):.2f} ms"
        f"  statuses {r['statuses']}",
    )
    return result


async def _drain(ctx: Context, offsets: Offsets) -> None:
    """Let the worker's agents finish what the webhook accepted before the next run."""
    signals = await offsets.total(ctx.main.topics["signals"])
    await offsets.wait_total(ctx.main.topics["fills"], signals, timeout=120.0)


async def run(ctx: Context) -> dict[str, Any]:
    levels: list[dict[str, Any]] = []
    ack = await broker_ack(ctx.bootstrap, f"{ctx.run_id}-ack", seconds=ctx.mode.webhook_seconds)
    ctx.progress("webhook", f"broker ack round trip (acks=all, c=1): {ack}")
    bare = await baselines.bare_handler(ctx.workdir / "bare-handler")
    try:
        async with Offsets(ctx.bootstrap) as offsets:
            for c in ctx.mode.webhook_levels:
                main = await ctx.ensure_main()
                at = (await _level(ctx, main.url, c, "at-stream")).as_dict()
                if resources.available():
                    at["worker_rss_mb_after"] = round(resources.rss_bytes(main.pid) / MB, 1)
                await _drain(ctx, offsets)
                base = (await _level(ctx, bare.url, c, "bare")).as_dict()
                levels.append(
                    {
                        "concurrency": c,
                        "at_stream": at,
                        "baseline": base,
                        "ratio": ratio(at["accepted_per_s"], base["accepted_per_s"]),
                    }
                )
    finally:
        bare.stop()
    best = max(levels, key=lambda lv: lv["at_stream"]["accepted_per_s"])
    ceiling = max(lv["baseline"]["accepted_per_s"] for lv in levels)
    return {
        "status": "measured",
        "broker_ack_ms": ack,
        "levels": levels,
        "best": {  # best at-stream level against the best bare-handler level
            "concurrency": best["concurrency"],
            "accepted_per_s": best["at_stream"]["accepted_per_s"],
            "baseline_per_s": ceiling,
            "ratio": ratio(best["at_stream"]["accepted_per_s"], ceiling),
        },
    }
