"""The execution clock on the real broker: a resting ``day`` order expires at its
session's close with no quote of its symbol, from the clock's ticks in ``orders``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.integration.execution_support import events_of, session, signal, trading_env
from tests.integration.support import Worker

SESSION_LEFT = timedelta(seconds=25)  # the worker starts and takes the orders before


def _hours_closing_soon(now: datetime) -> str:
    """Trading hours for DAY that opened a minute ago and close in SESSION_LEFT, in a
    fixed-offset zone where it is about noon (so the session never spans midnight)."""
    offset = 12 - now.hour
    zone = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    local = now + timedelta(hours=offset)
    opened, closes = local - timedelta(minutes=1), local + SESSION_LEFT
    return f"""
[venues.sim.symbols.DAY.trading_hours]
timezone = "{zone}"
open = "{opened:%H:%M:%S}"
close = "{closes:%H:%M:%S}"
days = [0, 1, 2, 3, 4, 5, 6]
"""


def _env(directory: Path, now: datetime) -> dict[str, str]:
    env = trading_env(directory)
    simulator = Path(env["AT_STREAM_SIMULATOR_CONFIG"])
    simulator.write_text(simulator.read_text() + _hours_closing_soon(now))
    return env


async def test_a_resting_day_order_expires_at_the_close_without_a_quote(
    start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    worker = start_worker(**_env(tmp_path, now), AT_STREAM_CLOCK_INTERVAL_SECONDS="1")
    await worker.wait_ready()
    async with session() as http:
        day = await signal(http, worker, "clk-a", symbol="DAY", order_type="limit",
                           limit_price="50", price="100", time_in_force="day")  # fmt: skip
        gtc = await signal(http, worker, "clk-b", symbol="DAY", order_type="limit",
                           limit_price="50", price="100", time_in_force="gtc")  # fmt: skip
        events = await events_of(worker, day, "expired", timeout=60)
        assert [e["status"] for e in events] == ["accepted", "expired"]
        assert events[-1]["reason_code"] == "session_end"
        closed = datetime.fromisoformat(events[-1]["event_time"])
        assert closed == now + SESSION_LEFT  # the close itself, whenever the tick came
        assert [e["status"] for e in await events_of(worker, gtc)] == ["accepted"]
