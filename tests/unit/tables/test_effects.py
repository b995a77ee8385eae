"""The effects marks never pass a record the agent did not get (pure, no broker)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

TP0 = ("signals", 0)
COMMITTED: dict[Any, int | None] = {}
"""What ``faust_internals.committed_offset`` answers in these tests (Faust seeked there)."""


@pytest.fixture(autouse=True)
def _committed(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import faust_internals

    COMMITTED.clear()
    monkeypatch.setattr(faust_internals, "committed_offset", lambda app, tp: COMMITTED.get(tp))


class _Event:  # what the marks read of a Faust event (the timer keeps a weak reference)
    def __init__(self, offset: int) -> None:
        self.message = SimpleNamespace(topic="signals", partition=0, offset=offset, tp=TP0)


def _event(offset: int) -> Any:
    return _Event(offset)


def test_a_record_skipped_holds_the_mark_below_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY_HMAC_SECRET", "unit-test-secret")
    import app.main  # noqa: F401  (the app first, as the worker imports it)
    from app.tables import effects

    ledger: dict[str, int] = {}
    monkeypatch.setattr(effects, "ledger", ledger)  # a dict stands for the table
    loop = asyncio.new_event_loop()
    try:

        def acked() -> asyncio.Future[None]:
            ack: asyncio.Future[None] = loop.create_future()
            ack.set_result(None)
            return ack

        marks = effects.Watermark("test")
        key = "test:signals:0"

        def handle(offset: int) -> bool:
            event = _event(offset)
            marks.saw(event)
            if marks.done(event):
                return False
            marks.track(event, [acked()])
            return True

        assert all(handle(o) for o in range(9))
        marks.flush()  # what the timer does
        assert ledger[key] == 9  # caught up: every record before 9 is durable
        assert handle(11)  # 9 and 10 never came (Faust dropped them)
        assert handle(12)
        marks.flush()
        assert ledger[key] == 9  # not 13: 9 and 10 have no effects yet
        assert not marks.done(_event(9))
        marks.forget()  # the rebalance asked for: the records come again from the commit
        assert [handle(o) for o in (9, 10, 11, 12)] == [True, True, True, True]
        marks.flush()
        assert ledger[key] == 13  # 11 and 12 produced twice: duplicates, same ids
    finally:
        loop.close()


def test_records_seen_again_do_not_hold_the_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY_HMAC_SECRET", "unit-test-secret")
    import app.main  # noqa: F401  (the app first, as the worker imports it)
    from app.tables import effects

    monkeypatch.setattr(effects, "ledger", {})
    marks = effects.Watermark("test2")
    for offset in (5, 6, 6, 7, 3, 8):  # a redelivery, an old record: no gap
        marks.saw(_event(offset))
    assert marks._hold == {}
    marks.saw(_event(10))
    assert marks._hold == {"test2:signals:0": 9}


def test_a_first_record_past_the_committed_offset_holds_the_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Faust seeked to the committed offset 10, but the agent's first record is 11 (10 was
    dropped around the rebalance): the mark stays at 10, so 10 is produced when it comes."""
    monkeypatch.setenv("API_KEY_HMAC_SECRET", "unit-test-secret")
    import app.main  # noqa: F401  (the app first, as the worker imports it)
    from app.tables import effects

    monkeypatch.setattr(effects, "ledger", {})
    COMMITTED[TP0] = 10
    marks = effects.Watermark("test3")
    marks.saw(_event(11))
    assert marks._hold == {"test3:signals:0": 10}
    marks.forget()
    marks.saw(_event(10))  # the next assignment starts where it should: no hold
    marks.saw(_event(11))
    assert marks._hold == {}
