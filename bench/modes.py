"""How big each scenario is in each mode: full (``make bench``), quick and smoke."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    name: str
    webhook_levels: tuple[int, ...]  # closed-loop concurrency levels
    webhook_seconds: float  # measured seconds per level
    warmup_seconds: float  # unmeasured load before each measurement
    e2e_rates: tuple[int, ...]  # signals/s offered, open loop
    e2e_seconds: float  # per rate
    chain_count: int  # signals preloaded for the catch-up
    chain_timeout: float  # give up on a catch-up after this many seconds
    chain_two_workers: bool  # also the catch-up by two workers of one group
    chain_plain_faust: bool  # also the same chain in plain per-record Faust (a baseline)
    startup_repeats: int  # fresh worker launches (each followed by a restart)
    recovery_keys: tuple[int, ...]  # positions table sizes recovered cold
    recovery_timeout: float  # seconds a recovery may take before it counts as failed
    failover_keys: int  # positions keys when one of two workers leaves (standby 0 vs 1)
    profile_seconds: float  # 0: no profile pass
    broker_heap: str


FULL = Mode(
    name="full",
    webhook_levels=(1, 8, 32),
    webhook_seconds=8.0,
    warmup_seconds=1.5,
    e2e_rates=(200, 1000, 2000),
    e2e_seconds=30.0,
    chain_count=200_000,
    chain_timeout=600.0,
    chain_two_workers=True,
    chain_plain_faust=True,
    startup_repeats=3,
    recovery_keys=(100_000, 1_000_000),
    recovery_timeout=600.0,
    failover_keys=200_000,
    profile_seconds=10.0,
    broker_heap="512m",
)

QUICK = Mode(
    name="quick",
    webhook_levels=(1, 8, 32),
    webhook_seconds=3.0,
    warmup_seconds=1.0,
    e2e_rates=(200, 500, 1000),
    e2e_seconds=5.0,
    chain_count=20_000,
    chain_timeout=90.0,
    chain_two_workers=False,  # keeps --quick under 3 minutes
    chain_plain_faust=True,
    startup_repeats=1,
    recovery_keys=(10_000, 50_000),
    recovery_timeout=120.0,
    failover_keys=20_000,
    profile_seconds=0.0,
    broker_heap="512m",
)

SMOKE = Mode(
    name="smoke",
    webhook_levels=(8,),
    webhook_seconds=1.0,
    warmup_seconds=0.2,
    e2e_rates=(100,),
    e2e_seconds=1.5,
    chain_count=300,
    chain_timeout=30.0,
    chain_two_workers=False,  # full mode runs it (here: two more Faust start-ups per make test)
    chain_plain_faust=False,  # a third Faust start-up would take the smoke test past 2 min
    startup_repeats=0,  # the cold start (stack bring-up) is still measured
    recovery_keys=(1000,),
    recovery_timeout=60.0,
    failover_keys=1000,
    profile_seconds=0.0,
    broker_heap="384m",
)

MODES = {m.name: m for m in (FULL, QUICK, SMOKE)}
