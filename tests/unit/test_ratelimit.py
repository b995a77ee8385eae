"""Token buckets and the in-flight bound of the webhook."""

from __future__ import annotations

import pytest

from app.ratelimit import Admission, TokenBucket, retry_after


def test_admission_refuses_past_the_limit_and_admits_after_a_leave() -> None:
    gate = Admission(2)
    assert gate.enter() and gate.enter()
    assert not gate.enter()  # the third waits for nobody: refused now
    assert gate.in_flight == 2  # a refusal takes no slot
    gate.leave()
    assert gate.enter()
    assert gate.in_flight == 2


def test_bucket_grants_the_burst_then_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate=2.0, burst=2)
    now = bucket.stamp
    assert bucket.take(now) == 0.0 and bucket.take(now) == 0.0
    assert bucket.take(now) == pytest.approx(0.5)
    assert bucket.take(now + 0.5) == 0.0


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2")])
def test_retry_after_is_whole_seconds_at_least_one(wait: float, header: str) -> None:
    assert retry_after(wait) == header
