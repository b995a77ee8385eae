"""When an assigned partition counts as stalled, and how often to act on it (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from faust.types import TP

MAX_BACKOFF_SECONDS = 600.0


@dataclass
class StallDetector:
    """Pure: fed (committed, end) per partition at times ``now``, says which stalled."""

    stall_after: float
    _since: dict[TP, tuple[int | None, float]] = field(default_factory=dict)
    _heals: int = 0
    _next_heal: float = 0.0

    def update(self, now: float, offsets: Mapping[TP, tuple[int | None, int]]) -> list[TP]:
        """The partitions with lag whose committed offset has not moved for
        ``stall_after`` seconds; ``offsets`` maps each assigned one to (committed, end)."""
        stalled = []
        for tp in set(self._since) - set(offsets):
            del self._since[tp]  # no longer assigned
        for tp, (committed, end) in offsets.items():
            seen = self._since.get(tp)
            if seen is None or seen[0] != committed or end <= (committed or 0):
                self._since[tp] = (committed, now)  # progress, or nothing to do
            elif now - seen[1] >= self.stall_after:
                stalled.append(tp)
        if not stalled:
            self._heals, self._next_heal = 0, 0.0
        return sorted(stalled)

    def should_heal(self, now: float) -> bool:
        """True at most once per back-off period (stall_after, then x2 up to 10 min)."""
        if now < self._next_heal:
            return False
        self._next_heal = now + min(self.stall_after * 2**self._heals, MAX_BACKOFF_SECONDS)
        self._heals += 1
        return True

    def pause(self) -> None:
        """Forget the clocks: a rebalance or recovery is under way."""
        self._since.clear()
