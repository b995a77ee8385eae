"""Which venue answers are retried, and how long the waits are."""

from __future__ import annotations

import random

import pytest

from app.venues.retry import Answer, RetryPolicy, backoff_delay, classify, retry_after_seconds


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, Answer.OK),
        (204, Answer.OK),
        (408, Answer.RETRY),
        (429, Answer.RETRY),
        (500, Answer.RETRY),
        (502, Answer.RETRY),
        (503, Answer.RETRY),
        (400, Answer.FAIL),
        (401, Answer.FAIL),
        (403, Answer.FAIL),
        (404, Answer.FAIL),
        (422, Answer.FAIL),
    ],
)
def test_classify(status: int, answer: Answer) -> None:
    assert classify(status) is answer


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0)
    rng = random.Random(7)
    for retry in range(8):
        step = min(1.0, 0.1 * 2**retry)
        delays = [backoff_delay(policy, retry, rng) for _ in range(50)]
        assert all(step / 2 <= d <= step for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds({"Retry-After": "3"}, 429, 0) == 3
    assert retry_after_seconds({"retry-after": " 0 "}, 503, 0) == 0
    now = 1_700_000_000.0
    date = "Tue, 14 Nov 2023 22:13:25 GMT"  # now + 5 s
    assert retry_after_seconds({"Retry-After": date}, 429, now) == pytest.approx(5)
    assert retry_after_seconds({"Retry-After": "soon"}, 429, now) is None


def test_rate_limit_reset_is_used_on_a_429_only() -> None:
    headers = {"X-Ratelimit-Reset": "1700000004"}
    assert retry_after_seconds(headers, 429, 1_700_000_000.0) == 4
    assert retry_after_seconds(headers, 503, 1_700_000_000.0) is None
    assert retry_after_seconds({"X-Ratelimit-Reset": "1"}, 429, 1_700_000_000.0) == 0


def test_bad_policy() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=2, max_delay=1)
