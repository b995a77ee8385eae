"""Retries of venue calls: which answers to retry, and how long to wait. Pure.

Transient: 408, 429, every 5xx, timeouts and connection errors. Never retried: every other
4xx (a business answer: the venue is up and said no). The wait is exponential backoff with
"equal jitter" (half the step fixed, half random, so waits grow and never collide), unless
the venue says how long: ``Retry-After`` (seconds or an HTTP date), else on a 429 Alpaca's
``X-Ratelimit-Reset`` (epoch seconds). A venue asking for longer than ``max_retry_after``
ends the retries.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum


class Answer(StrEnum):
    OK = "ok"
    RETRY = "retry"
    FAIL = "fail"


def classify(status: int) -> Answer:
    if 200 <= status < 300:
        return Answer.OK
    if status in (408, 429) or status >= 500:
        return Answer.RETRY
    return Answer.FAIL


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    """Attempts in all, the first included."""
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.base_delay <= self.max_delay:
            raise ValueError("need 0 <= base_delay <= max_delay")


def backoff_delay(policy: RetryPolicy, retry: int, rng: random.Random) -> float:
    """The wait before retry number ``retry`` (0 for the first retry)."""
    step = min(policy.max_delay, policy.base_delay * 2.0**retry)
    return step / 2 + rng.uniform(0, step / 2)


def retry_after_seconds(headers: Mapping[str, str], status: int, now: float) -> float | None:
    """How long the venue asked us to wait, if it did; ``now`` is epoch seconds."""
    value = _header(headers, "Retry-After")
    if value is not None:
        value = value.strip()
        if value.isascii() and value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - now)
    reset = _header(headers, "X-Ratelimit-Reset")
    if status == 429 and reset is not None and reset.strip().isdigit():
        return max(0.0, float(reset.strip()) - now)
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None
