"""Issue 11's goals, checked against a run's results (None: not measured)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Results = dict[str, Any]


@dataclass(frozen=True)
class Target:
    key: str
    text: str  # e.g. "webhook >= 0.5x the bare-handler ceiling"
    unit: str
    limit: float
    higher_is_better: bool
    value: Callable[[Results], float | None]

    def check(self, results: Results) -> dict[str, Any]:
        try:
            value = self.value(results)
        except (KeyError, TypeError, IndexError, ValueError):
            value = None
        met = None
        if value is not None:
            met = value >= self.limit if self.higher_is_better else value <= self.limit
        return {
            "key": self.key,
            "target": self.text,
            "unit": self.unit,
            "value": value,
            "limit": self.limit,
            "met": met,
        }


def _sc(results: Results, name: str) -> dict[str, Any]:
    sc: dict[str, Any] = results["scenarios"][name]
    if sc.get("status") != "measured":
        raise KeyError(name)
    return sc


def _e2e(results: Results, rate: int, pct: str) -> float | None:
    for r in _sc(results, "e2e")["rates"]:
        if r["rate"] == rate:
            value: float = r["received_to_fill_ms"][pct]
            return value
    return None


def _e2e_accepted_2000(results: Results) -> float | None:
    for r in _sc(results, "e2e")["rates"]:
        if r["rate"] == 2000:
            return round(r["accepted"] / r["offered"], 4) if r["offered"] else None
    return None


def _webhook_ratio(results: Results) -> float | None:
    best = _sc(results, "webhook")["best"]
    value: float | None = best.get("ratio")
    return value


def _chain(results: Results, field: str) -> float | None:
    sc = _sc(results, "chain")
    value: float | None = sc[field] if field.endswith("ratio") else sc["at_stream"][field]
    return value


def _recovery(results: Results) -> float | None:
    value: float | None = _sc(results, "recovery")["keys_1m"]["ready_s"]
    return value


TARGETS = (
    Target(
        "webhook_ratio", "Webhook >= 0.5x the bare-handler ceiling", "x", 0.5, True, _webhook_ratio
    ),
    Target(
        "chain_rate",
        "Chain catch-up >= 5,000 signals/s",
        "signals/s",
        5_000,
        True,
        lambda r: _chain(r, "signals_per_s"),
    ),
    Target(
        "chain_ratio",
        "Chain catch-up >= 0.2x the raw aiokafka loop",
        "x",
        0.2,
        True,
        lambda r: _chain(r, "ratio"),
    ),
    Target(
        "chain_plain_faust_ratio",
        "Chain catch-up >= 4x the same chain in plain per-record Faust",
        "x",
        4.0,
        True,
        lambda r: _chain(r, "plain_faust_ratio"),
    ),
    Target(
        "chain_cpu",
        "Chain worker CPU per signal <= 200 µs",
        "µs",
        200.0,
        False,
        lambda r: _chain(r, "cpu_us_per_signal"),
    ),
    Target(
        "replay_rate",
        "Replay after a reset >= 10,000 fills/s",
        "fills/s",
        10_000,
        True,
        lambda r: _sc(r, "replay")["fills_per_s"],
    ),
    Target(
        "e2e_2000",
        "E2E at 2,000/s: every request accepted",
        "accepted/offered",
        1.0,
        True,
        _e2e_accepted_2000,
    ),
    Target(
        "e2e_p50", "E2E at 1,000/s: p50 <= 8 ms", "ms", 8.0, False, lambda r: _e2e(r, 1000, "p50")
    ),
    Target(
        "e2e_p99", "E2E at 1,000/s: p99 <= 25 ms", "ms", 25.0, False, lambda r: _e2e(r, 1000, "p99")
    ),
    Target(
        "rss",
        "All Python (at-stream) processes <= 300 MB RSS",
        "MB",
        300.0,
        False,
        lambda r: _sc(r, "resources")["python_processes_rss_max_mb"],
    ),
    Target(
        "ready",
        "Ready <= 5 s with the broker up (fresh worker)",
        "s",
        5.0,
        False,
        lambda r: _sc(r, "startup")["ready_fresh_s"],
    ),
    Target("recovery_1m", "Cold recovery of 1M keys <= 30 s", "s", 30.0, False, _recovery),
)


def evaluate(results: Results) -> list[dict[str, Any]]:
    return [t.check(results) for t in TARGETS]
