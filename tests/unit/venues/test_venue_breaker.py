"""The circuit breaker, pure: time is passed in."""

from __future__ import annotations

import pytest

from app.venues.breaker import BreakerState, CircuitBreaker


def test_opens_after_n_consecutive_failures() -> None:
    b = CircuitBreaker(failure_threshold=3, cooldown_seconds=10)
    for t in (0.0, 1.0):
        b.record_failure(t)
        assert b.state(t) is BreakerState.CLOSED
        assert b.allow(t)
    b.record_failure(2.0)
    assert b.state(2.0) is BreakerState.OPEN
    assert not b.allow(2.5)
    assert b.retry_in(2.5) == pytest.approx(9.5)
    assert "3 consecutive failures" in b.describe(2.5)


def test_a_success_resets_the_count() -> None:
    b = CircuitBreaker(failure_threshold=2, cooldown_seconds=10)
    b.record_failure(0)
    b.record_success()
    b.record_failure(1)
    assert b.state(1) is BreakerState.CLOSED


def test_half_opens_after_the_cooldown_with_one_trial() -> None:
    b = CircuitBreaker(failure_threshold=1, cooldown_seconds=5)
    b.record_failure(0)
    assert not b.allow(4.9)
    assert b.state(5) is BreakerState.HALF_OPEN
    assert b.allow(5)  # the trial
    assert not b.allow(5.1)  # one at a time
    b.record_success()
    assert b.state(5.2) is BreakerState.CLOSED
    assert b.allow(5.2) and b.allow(5.2)


def test_a_failed_trial_opens_again_for_a_full_cooldown() -> None:
    b = CircuitBreaker(failure_threshold=1, cooldown_seconds=5)
    b.record_failure(0)
    assert b.allow(6)
    b.record_failure(6)
    assert b.state(10.9) is BreakerState.OPEN
    assert not b.allow(10.9)
    assert b.allow(11)


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(cooldown_seconds=-1)
