"""A token bucket per provider (per worker process)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    burst: int
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)
        self.stamp = time.monotonic()

    def take(self, now: float | None = None) -> float:
        """Take a token: 0.0 if granted, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def retry_after(wait: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))
