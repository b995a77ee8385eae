"""Scenario 8: replay. The chain's worker, once it has applied every fill, is stopped;
``at-stream reset --to-earliest --execute`` moves its group to the start, deletes the
derived tables (positions, order states, execution books: their changelogs and RocksDB
files) and rebuilds the positions from ``fills`` itself (``app.rebuild``); the worker is
started again, loads them, and rebuilds the order states and books from the topics.

Measured: the reset itself (its rebuild's own rate is kept); the worker's
launch→/readyz; the reset's start→positions equal, byte for byte, to the ones before
(``GET /positions``), which gives ``fills_per_s``; and launch→the group caught up on
every topic, order states and books rebuilt (the reset's progress bar ends then; its
last line, with the rate it shows, is kept).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

from bench.kafka_io import Offsets
from bench.scenarios import Context
from bench.stack import WorkerProc


async def _positions(http: aiohttp.ClientSession, worker: WorkerProc) -> bytes | None:
    try:
        async with http.get(worker.url + "/positions") as resp:
            return await resp.read() if resp.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        return None


def applied(body: bytes) -> int:
    return sum(int(p["fills_applied"]) for p in json.loads(body)["items"])


def differences(before: bytes, after: bytes) -> str:
    """What differs between two ``GET /positions`` answers, in a line."""
    old = {(p["account"], p["symbol"]): p for p in json.loads(before)["items"]}
    new = {(p["account"], p["symbol"]): p for p in json.loads(after)["items"]}
    keys = sorted(set(old) | set(new))
    diff = [k for k in keys if old.get(k) != new.get(k)]
    if not diff:
        return "equal as JSON, not byte for byte"
    k = diff[0]
    a, b = old.get(k) or {}, new.get(k) or {}
    fields = sorted(f for f in set(a) | set(b) if a.get(f) != b.get(f))
    shown = {f: (a.get(f), b.get(f)) for f in fields[:4]}
    return (f"{len(diff)} of {len(keys)} positions differ; fills applied {applied(before)} "
            f"before, {applied(after)} now; first {k}: {str(shown)[:400]}")  # fmt: skip


async def _wait(
    http: aiohttp.ClientSession, worker: WorkerProc, done: Any, timeout: float,
    before: bytes | None = None,
) -> bytes:  # fmt: skip
    deadline = time.monotonic() + timeout
    body: bytes | None = None
    while time.monotonic() < deadline:
        body = await _positions(http, worker) or body
        if body is not None and done(body):
            return body
        await asyncio.sleep(0.1)
    why = differences(before, body) if before is not None and body is not None else "no answer"
    raise TimeoutError(f"positions not as expected within {timeout:.0f}s: {why}")


async def measure(ctx: Context, worker: WorkerProc) -> dict[str, Any]:
    """Reset and rebuild the chain worker's tables; the worker is left running.

    Every fill on its ``fills`` topic counts: the chain's, and the profile pass's when it
    ran on this worker after the catch-up."""
    timeout = ctx.mode.chain_timeout
    async with Offsets(ctx.bootstrap) as offsets:
        fills = await offsets.total(worker.topics["fills"])
    client = aiohttp.ClientTimeout(total=10.0)
    async with aiohttp.ClientSession(timeout=client) as http:
        before = await _wait(http, worker, lambda b: applied(b) >= fills, timeout)
        ctx.progress("replay", f"{applied(before):,} fills applied; stopping the worker, reset")
        worker.stop()
        t0 = time.monotonic()
        reset = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "reset", "--to-earliest", "--execute",
            "--data-dir", str(worker.data), "--wait-timeout", str(timeout),
            env=worker.env(), cwd=worker.data,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        rebuilt_line, replayed = "", 0
        try:
            assert reset.stdout is not None
            while True:
                line = (await reset.stdout.readline()).decode()
                if not line:
                    err = (await reset.communicate())[1].decode()
                    raise RuntimeError(f"at-stream reset exited {reset.returncode}: {err[-500:]}")
                if line.startswith("positions rebuilt"):
                    rebuilt_line = line.strip()
                if line.endswith("record(s) to process again\n"):
                    replayed = int(line.split()[0])
                if "start the workers" in line:
                    break
            reset_s = time.monotonic() - t0
            worker.start()
            ready_s = await worker.wait_ready(timeout)
            await _wait(http, worker, lambda b: b == before, timeout, before)
            rebuilt_s = time.monotonic() - t0  # the reset's start: it rebuilds the positions
            after_launch_s = time.monotonic() - worker.launched
            _, err_bytes = await asyncio.wait_for(reset.communicate(), timeout)
            caught_up_s = time.monotonic() - worker.launched
        finally:
            if reset.returncode is None:
                reset.kill()
                await reset.wait()
    bar = [
        line
        for line in err_bytes.decode().replace("\r", "\n").strip().splitlines()
        if line.startswith("rebuild [")
    ]
    rate = fills / rebuilt_s
    ctx.progress("replay", f"positions equal after {rebuilt_s:.1f}s: {rate:,.0f} fills/s")
    return {
        "status": "measured" if reset.returncode == 0 else "failed",
        **({} if reset.returncode == 0 else {"error": f"reset exited {reset.returncode}"}),
        "fills": fills,
        "reset_s": round(reset_s, 3),
        "ready_s": round(ready_s, 3),
        "rebuilt_line": rebuilt_line,
        "positions_equal_s": round(rebuilt_s, 3),
        "positions_equal_after_launch_s": round(after_launch_s, 3),
        "caught_up_s": round(caught_up_s, 3),
        "fills_per_s": round(rate, 1),
        "records_per_s_to_caught_up": round(replayed / max(caught_up_s, 1e-3), 1),
        "positions_equal": True,
        "progress_bar": bar[-1] if bar else "",
    }
