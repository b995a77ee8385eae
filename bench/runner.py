"""One run: bring the stack up, run every scenario in order, tear everything down."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import machine, profiling
from bench.modes import Mode
from bench.progress import Progress
from bench.scenarios import Context, chain, e2e, failover, recovery, startup, webhook
from bench.stack import WORKER_SETTINGS, Stack, unique

log = logging.getLogger(__name__)

SCENARIOS = (
    "webhook", "e2e", "resources", "chain", "replay", "startup", "recovery", "failover"
)  # fmt: skip


@dataclass(frozen=True)
class Options:
    mode: Mode
    bootstrap: str | None = None  # an existing broker instead of our own
    only: frozenset[str] = frozenset(SCENARIOS)
    profile: bool = False
    keep: bool = False
    command: str = "python -m bench"
    out: Path | None = None


def _failed(exc: BaseException) -> dict[str, Any]:
    log.error("scenario failed:\n%s", "".join(traceback.format_exception(exc)))
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}


async def _guard(
    name: str, ctx: Context, step: Callable[[Context], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    ctx.progress(name, "start")
    try:
        return await step(ctx)
    except Exception as exc:  # one broken scenario must not lose the others' figures
        ctx.progress(name, f"FAILED: {type(exc).__name__}: {exc}")
        return _failed(exc)


async def _scenarios(ctx: Context, opts: Options) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    skipped = {"status": "not measured", "reason": "not selected (--only)"}
    if "webhook" in opts.only:
        out["webhook"] = await _guard("webhook", ctx, webhook.run)
    else:
        out["webhook"] = skipped
    if opts.only & {"e2e", "resources"}:
        ctx.progress("e2e", "start")
        try:
            out["e2e"], out["resources"] = await e2e.run(ctx)
        except Exception as exc:
            ctx.progress("e2e", f"FAILED: {type(exc).__name__}: {exc}")
            out["e2e"] = out["resources"] = _failed(exc)
    else:
        out["e2e"] = out["resources"] = skipped
    steps = (
        ("chain", chain.run),
        ("startup", startup.run),
        ("recovery", recovery.run),
        ("failover", failover.run),
    )
    for name, fn in steps:
        out[name] = await _guard(name, ctx, fn) if name in opts.only else skipped
        if name == "chain":  # the replay runs on the chain's worker, once it has caught up
            out["replay"] = ctx.replay_result or (
                skipped if "replay" not in opts.only else {"status": "failed", "error": "not run"}
            )
    return out


async def run(opts: Options, progress: Progress) -> dict[str, Any]:
    """Every scenario's results, with the run's metadata."""
    mode = opts.mode
    workdir = Path(tempfile.mkdtemp(prefix="at-stream-bench-"))
    stack = Stack(workdir, heap=mode.broker_heap, external_bootstrap=opts.bootstrap)
    started = time.time()
    results: dict[str, Any] = {
        "meta": {
            **machine.describe(),
            "mode": mode.name,
            "command": opts.command,
            "worker_settings": WORKER_SETTINGS,
        },
    }
    try:
        progress("stack", f"starting Kafka (heap {mode.broker_heap}) in {workdir}")
        broker_s = await asyncio.to_thread(stack.start_broker)
        progress("stack", f"Kafka at {stack.bootstrap} ({broker_s or 0:.1f}s); starting worker")
        main = stack.worker(unique("bench-main"))
        ready_s = await main.wait_ready()
        progress("stack", f"worker ready on {main.url} ({ready_s:.2f}s after launch)")
        cold: dict[str, Any] = {
            "broker_start_s": None if broker_s is None else round(broker_s, 3),
            "worker_ready_s": round(ready_s, 3),
            "total_s": None if broker_s is None else round(broker_s + ready_s, 3),
        }
        ctx = Context(mode, stack, progress, workdir, unique("r"), main, cold)
        ctx.profile, ctx.out = opts.profile, opts.out
        ctx.replay = "replay" in opts.only and "chain" in opts.only
        results["scenarios"] = await _scenarios(ctx, opts)
        if opts.profile:
            results["profile"] = await profiling.run(ctx)
        results["meta"]["incidents"] = ctx.incidents
    finally:
        progress("stack", "stopping workers and Kafka")
        await asyncio.to_thread(stack.close)
        if opts.keep:
            progress("stack", f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["meta"]["duration_s"] = round(time.time() - started, 1)
    return results
