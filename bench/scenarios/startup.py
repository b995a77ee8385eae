"""Scenario 5: start-up. Worker launch to ``/readyz`` 200 with the broker up, and cold.

- cold: the bench's own bring-up, broker start (storage format included) + first worker;
- fresh: a worker on new topics and a new consumer group (it creates them);
- restart: the same worker (same group, topics and data dir) launched again after a stop.
"""

from __future__ import annotations

import logging
import statistics
from typing import Any

from bench.scenarios import Context

log = logging.getLogger(__name__)


async def run(ctx: Context) -> dict[str, Any]:
    fresh: list[float] = []
    restart: list[float] = []
    for i in range(ctx.mode.startup_repeats):
        worker = ctx.stack.worker()
        try:
            fresh.append(await worker.wait_ready())
            worker.stop()
            worker.start()
            restart.append(await worker.wait_ready())
        finally:
            worker.stop()
        ctx.progress("startup", f"run {i + 1}: fresh {fresh[-1]:.2f}s, restart {restart[-1]:.2f}s")
    cold = dict(ctx.cold)
    if not fresh:  # smoke mode: the bring-up's first worker is the only launch
        fresh.append(cold["worker_ready_s"])
    result: dict[str, Any] = {
        "status": "measured",
        "ready_fresh_s": round(statistics.median(fresh), 3),
        "ready_restart_s": round(statistics.median(restart), 3) if restart else None,
        "ready_runs_s": {"fresh": fresh, "restart": restart},
        "cold": cold,
    }
    ctx.progress(
        "startup",
        f"ready (broker up) fresh {result['ready_fresh_s']} s, restart "
        f"{result['ready_restart_s']} s; cold {cold.get('total_s')} s",
    )
    return result
