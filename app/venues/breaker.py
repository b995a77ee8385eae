"""A circuit breaker: pure state, the time passed in (no I/O, no clock of its own).

    closed --N consecutive failures--> open --cool-down elapsed--> half_open
    half_open --trial succeeds--> closed;  half_open --trial fails--> open (cool-down again)

While open, ``allow`` says no and the caller refuses at once with a clear reason. In
half-open one trial call is let through at a time; its outcome decides. A success in
closed resets the count: only *consecutive* failures open the breaker.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    failure_threshold: int = 5
    cooldown_seconds: float = 30.0
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if self.cooldown_seconds < 0:
            raise ValueError("cooldown_seconds must be 0 or more")

    def state(self, now: float) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if now - self.opened_at >= self.cooldown_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self, now: float) -> bool:
        """May a call go out now? In half-open, only one trial at a time."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self.trial_in_flight:
            return False
        self.trial_in_flight = True
        return True

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.trial_in_flight = False

    def record_failure(self, now: float) -> None:
        self.trial_in_flight = False
        if self.opened_at is not None:  # a failed half-open trial (or a late failure)
            self.opened_at = now
            return
        self.failures += 1
        if self.failures >= self.failure_threshold:
            self.opened_at = now

    def retry_in(self, now: float) -> float:
        """Seconds until a trial call is allowed (0 when closed or half-open)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown_seconds - now)

    def describe(self, now: float) -> str:
        """Why a call is refused, for the reject reason and the logs."""
        return (
            f"circuit breaker open after {self.failures} consecutive failures; "
            f"next trial in {self.retry_in(now):.1f} s"
        )
