from __future__ import annotations

from faust.types import TP

from app.stall import MAX_BACKOFF_SECONDS, StallDetector

A = TP("signals", 0)
B = TP("signals", 1)


def test_a_partition_with_lag_and_no_commit_stalls_after_the_period() -> None:
    d = StallDetector(stall_after=30)
    assert d.update(0, {A: (10, 20), B: (5, 5)}) == []
    assert d.update(29, {A: (10, 20), B: (5, 5)}) == []
    assert d.update(30, {A: (10, 20), B: (5, 5)}) == [A]  # B has nothing to do


def test_progress_or_caught_up_resets_the_clock() -> None:
    d = StallDetector(stall_after=30)
    d.update(0, {A: (10, 20)})
    d.update(25, {A: (11, 20)})  # one commit: alive
    assert d.update(50, {A: (11, 20)}) == []
    assert d.update(55, {A: (11, 20)}) == [A]
    d.update(56, {A: (20, 20)})  # caught up
    d.update(195, {A: (20, 20)})
    assert d.update(200, {A: (20, 25)}) == []  # new records, 5 s ago at most


def test_never_committed_counts_from_zero() -> None:
    d = StallDetector(stall_after=10)
    d.update(0, {A: (None, 3)})
    assert d.update(10, {A: (None, 3)}) == [A]
    d2 = StallDetector(stall_after=10)
    d2.update(0, {A: (None, 0)})
    assert d2.update(100, {A: (None, 0)}) == []  # empty partition


def test_a_revoked_partition_is_forgotten_and_pause_forgets_every_clock() -> None:
    d = StallDetector(stall_after=10)
    d.update(0, {A: (1, 2), B: (1, 2)})
    assert d.update(5, {A: (1, 2)}) == []
    assert d.update(8, {A: (1, 2), B: (1, 2)}) == []  # B is back: its clock restarts
    assert d.update(10, {A: (1, 2), B: (1, 2)}) == [A]
    d.pause()
    assert d.update(15, {A: (1, 2), B: (1, 2)}) == []


def test_rebalances_back_off_while_the_stall_lasts_and_reset_once_it_clears() -> None:
    d = StallDetector(stall_after=30)
    d.update(0, {A: (1, 2)})
    assert d.update(30, {A: (1, 2)}) == [A]
    assert d.should_heal(30)
    assert not d.should_heal(59)
    assert d.should_heal(60)  # next after 30 s, then 60, 120...
    assert not d.should_heal(119)
    assert d.should_heal(120)
    t = 120.0
    for _ in range(20):
        t += MAX_BACKOFF_SECONDS
        assert d.should_heal(t)  # capped at 10 min
    d.update(t + 1, {A: (2, 2)})  # cleared: the back-off starts again
    assert d.update(t + 2, {}) == []
    assert d.should_heal(t + 2)
