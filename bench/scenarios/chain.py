"""Scenario 3: chain catch-up, against a raw aiokafka two-hop loop and the same chain in
plain per-record Faust (``bench/plainfaust.py``), on the same records.

N valid Signal records are preloaded onto a fresh ``signals`` topic, then the consumer is
started, and the clock runs until the N-th fill is on ``fills``. Two rates are reported,
both from the fills' broker timestamps:

- ``signals_per_s``: N / (last fill - first fill), the catch-up rate once consuming;
- ``signals_per_s_incl_start``: N / (last fill - process launch), start-up included.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import baselines, profiling, resources
from bench.kafka_io import Offsets, create_topics, preload, read_records
from bench.payloads import signal_records
from bench.scenarios import Context, not_measured, replay
from bench.scenarios.e2e import per_second
from bench.stack import WorkerProc, topics_for, unique
from bench.stats import ratio

log = logging.getLogger(__name__)

Stopper = Callable[[], None]
Alive = Callable[[], bool]
Pids = Callable[[], list[int]]


async def catch_up(
    ctx: Context,
    tag: str,
    topics: list[str],
    launch: Callable[[], Awaitable[tuple[Stopper, Alive, Pids]]],
) -> dict[str, Any]:
    """Preload ``topics[0]``, launch the consumer, wait for N records on ``topics[-1]``.

    CPU per signal (the consumer's processes, and the broker's) is counted from the first
    fill seen to the last, so start-up is not in it."""
    n = ctx.mode.chain_count
    await create_topics(ctx.bootstrap, topics)
    count, load_s = await preload(ctx.bootstrap, topics[0], signal_records(ctx.run_id, n))
    ctx.progress("chain", f"{tag}: preloaded {count} signals in {load_s:.1f}s; starting")
    launched = time.time()
    stop, alive, pids = await launch()
    last_report = [time.monotonic()]
    broker = ctx.stack.broker_pid
    cpu_from: list[tuple[int, float, float]] = []  # (fills, consumer cpu, broker cpu)

    def cpu() -> tuple[float, float]:
        used = sum(resources.cpu_seconds(pid) for pid in pids())
        return used, resources.cpu_seconds(broker) if broker is not None else 0.0

    def on_poll(total: int) -> None:
        if total and not cpu_from:
            cpu_from.append((total, *cpu()))
        if not alive():
            raise RuntimeError(f"{tag}: the consumer process exited; see its log in --keep")
        if time.monotonic() - last_report[0] >= 5.0:
            last_report[0] = time.monotonic()
            ctx.progress("chain", f"{tag}: {total}/{n} fills")

    try:
        async with Offsets(ctx.bootstrap) as offsets:
            done = await offsets.wait_total(
                topics[-1], n, timeout=ctx.mode.chain_timeout, on_poll=on_poll
            )
        cpu_to = cpu()
    finally:
        stop()
    fills = await read_records(ctx.bootstrap, topics[-1], None, done, timeout=120.0)
    stamps = sorted(r.timestamp / 1000.0 for r in fills)
    if not stamps:
        return {"status": "failed", "error": f"{tag}: no fills within {ctx.mode.chain_timeout}s"}
    first, last = stamps[0], stamps[-1]
    span = max(last - first, 1e-3)
    result = {
        "records": n,
        "fills": len(stamps),
        "complete": len(stamps) >= n,
        "preload_seconds": round(load_s, 2),
        "first_fill_after_launch_s": round(first - launched, 3),
        "catch_up_seconds": round(span, 3),
        "signals_per_s": round(len(stamps) / span, 1),
        "signals_per_s_incl_start": round(len(stamps) / max(last - launched, 1e-3), 1),
        "fills_per_s": per_second(stamps, launched),
    }
    if cpu_from and done > cpu_from[0][0]:
        counted = done - cpu_from[0][0]
        result["cpu_us_per_signal"] = round((cpu_to[0] - cpu_from[0][1]) / counted * 1e6)
        result["broker_cpu_us_per_signal"] = round((cpu_to[1] - cpu_from[0][2]) / counted * 1e6)
    ctx.progress(
        "chain",
        f"{tag}: {len(stamps)} fills, {result['signals_per_s']:.0f} signals/s "
        f"({result['signals_per_s_incl_start']:.0f}/s with start-up)",
    )
    return result


async def _at_stream(ctx: Context) -> dict[str, Any]:
    prefix = unique("chain")
    t = topics_for(prefix)
    worker = ctx.stack.worker(prefix, start=False)

    async def launch() -> tuple[Stopper, Alive, Pids]:
        worker.start()
        alive = lambda: worker.proc is not None and worker.proc.poll() is None  # noqa: E731
        return lambda: None, alive, lambda: [worker.pid]

    try:
        result = await catch_up(ctx, "at-stream", [t["signals"], t["orders"], t["fills"]], launch)
        exe = profiling.py_spy()
        if ctx.profile and exe is not None and result.get("complete"):
            # steady state: every position now holds a full window of applied fill ids
            ctx.progress("profile", "agents: recording the caught-up chain worker with py-spy")
            note = f"the chain worker after catching up {ctx.mode.chain_count:,} signals"
            try:
                ctx.agents_profile = await profiling.agents_pass(ctx, worker, exe, note)
            except Exception as exc:  # a profile is a bonus; never lose the figures for it
                log.exception("profile of the chain worker failed")
                ctx.agents_profile = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        if ctx.replay:
            ctx.replay_result = await _replay(ctx, worker, result)
        return result
    finally:
        worker.stop()


async def _replay(ctx: Context, worker: WorkerProc, chain: dict[str, Any]) -> dict[str, Any]:
    if not chain.get("complete"):
        return not_measured("the chain's catch-up did not complete")
    ctx.progress("replay", "start")
    try:
        return await replay.measure(ctx, worker)
    except Exception as exc:  # never lose the chain's figures for it
        log.exception("replay failed")
        ctx.progress("replay", f"FAILED: {type(exc).__name__}: {exc}")
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}


async def _two_workers(ctx: Context) -> dict[str, Any]:
    """The same catch-up by two workers of one group: one process per core."""
    prefix = unique("chain2")
    t = topics_for(prefix)
    workers = [ctx.stack.worker(prefix, start=False) for _ in range(2)]

    async def launch() -> tuple[Stopper, Alive, Pids]:
        for w in workers:
            w.start()

        def alive() -> bool:
            return all(w.proc is not None and w.proc.poll() is None for w in workers)

        return lambda: None, alive, lambda: [w.pid for w in workers]

    try:
        return await catch_up(
            ctx, "at-stream, 2 workers", [t["signals"], t["orders"], t["fills"]], launch
        )
    finally:
        for w in workers:
            w.stop()


async def _raw(ctx: Context) -> dict[str, Any]:
    prefix = unique("raw")
    names = [f"{prefix}-signals", f"{prefix}-orders", f"{prefix}-fills"]

    async def launch() -> tuple[Stopper, Alive, Pids]:
        svc = baselines.raw_loop(ctx.bootstrap, prefix, names, ctx.workdir / prefix)
        return svc.stop, lambda: svc.proc.poll() is None, lambda: [svc.pid]

    return await catch_up(ctx, "raw loop", names, launch)


async def _plain_faust(ctx: Context) -> dict[str, Any]:
    prefix = unique("plain")
    names = [f"{prefix}-signals", f"{prefix}-orders", f"{prefix}-fills"]

    async def launch() -> tuple[Stopper, Alive, Pids]:
        svc = baselines.plain_faust(ctx.bootstrap, prefix, names, ctx.workdir / prefix)
        return svc.stop, lambda: svc.proc.poll() is None, lambda: [svc.pid]

    return await catch_up(ctx, "plain Faust", names, launch)


async def run(ctx: Context) -> dict[str, Any]:
    at = await _at_stream(ctx)
    base = await _raw(ctx)
    plain: dict[str, Any] = {"status": "not run"}
    if ctx.mode.chain_plain_faust:
        plain = await _plain_faust(ctx)
    two: dict[str, Any] = {"status": "not run"}
    if ctx.mode.chain_two_workers:
        two = await _two_workers(ctx)
    errors = [r["error"] for r in (at, base, plain) if r.get("status") == "failed"]
    return {
        "status": "failed" if errors else "measured",
        **({"error": "; ".join(errors)} if errors else {}),
        "at_stream": at,
        "baseline": base,
        "ratio": ratio(at.get("signals_per_s"), base.get("signals_per_s")),
        "plain_faust": plain,
        "plain_faust_ratio": ratio(at.get("signals_per_s"), plain.get("signals_per_s")),
        "two_workers": two,
        "two_workers_ratio": ratio(two.get("signals_per_s"), base.get("signals_per_s")),
    }
