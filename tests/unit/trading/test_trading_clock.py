"""The execution clock's tick: resting ``day`` orders whose session closed expire, in the
tick's place in the log; nothing else moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.trading.commands import ClockTick
from app.trading.engine import handle
from app.trading.events import ReasonCode
from tests.unit.trading.engine_store import MemoryStore, engine, limit_cmd, order_id, statuses
from tests.unit.trading.samples import CORRELATION, T0

MIDNIGHT = datetime.combine(T0.date() + timedelta(days=1), datetime.min.time(), UTC)


def _resting(store: MemoryStore) -> None:
    eng = engine()
    for n, tif in ((1, "day"), (2, "gtc")):  # buy limits far below the reference price
        out = handle(store, eng, limit_cmd(n, "50", time_in_force=tif), CORRELATION)
        assert statuses(out.events) == ["accepted"]
    assert store.resting_symbols() == ["AAPL"]


def test_a_tick_after_the_close_expires_day_orders_only() -> None:
    store = MemoryStore()
    _resting(store)
    eng = engine()
    assert handle(store, eng, ClockTick(at=MIDNIGHT - timedelta(seconds=1)), "c").events == ()
    events = handle(store, eng, ClockTick(at=MIDNIGHT + timedelta(seconds=30)), "c").events
    assert statuses(events) == ["expired"] and events[0].order_id == order_id(1)
    assert events[0].reason_code is ReasonCode.SESSION_END
    assert events[0].event_time == MIDNIGHT  # the session's close, not the tick's time
    assert [w.order_id for w in store.book("AAPL").open] == [order_id(2)]  # gtc rests on
    again = handle(store, eng, ClockTick(at=MIDNIGHT + timedelta(minutes=1)), "c")
    assert again.events == ()  # a second tick (or the same one twice) expires nothing


def test_a_tick_replayed_gives_the_same_bytes() -> None:
    runs = []
    for _ in range(2):
        store = MemoryStore()
        _resting(store)
        out = handle(store, engine(), ClockTick(at=MIDNIGHT + timedelta(seconds=5)), "c")
        runs.append(([e.dumps() for e in out.events], store.dump()))
    assert runs[0] == runs[1]


def test_an_empty_partition_ignores_the_tick() -> None:
    store = MemoryStore()
    assert handle(store, engine(), ClockTick(at=MIDNIGHT), "c").events == ()
    assert store.resting_symbols() == []
