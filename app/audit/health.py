"""Whether the audit store answers: ``/readyz``'s ``audit_store_reachable`` check and the
``at_stream_audit_store_up`` gauge (pure bookkeeping, no Faust: the sink feeds it).

The store is reachable while the sink's last write (or migration) succeeded and no probe
failed since (a read every 2 s, so that an idle sink notices an outage too): a store that
answers reads but refuses writes is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from app.audit.metrics import AUDIT_DB_UP, AUDIT_SINK_ENABLED
from app.audit.store import Store

log = logging.getLogger(__name__)

PROBE_INTERVAL = 2.0
PROBE_TIMEOUT = 2.0


@dataclass
class StoreHealth:
    enabled: bool = False  # the worker runs the sink (AT_STREAM_AUDIT_SINK)
    write_ok: bool = False  # until the store took the first migration
    probe_ok: bool = True

    @property
    def reachable(self) -> bool:
        return self.write_ok and self.probe_ok


health = StoreHealth()


def reset(enabled: bool) -> None:
    """A sink starts (or not): nothing answered yet."""
    health.enabled, health.write_ok, health.probe_ok = enabled, False, True
    AUDIT_SINK_ENABLED.set(1 if enabled else 0)
    AUDIT_DB_UP.set(0)


def answered(up: bool, *, probe: bool = False) -> None:
    """The store's last answer to a write (``probe`` False) or to the probe. A write that
    went through answers for the probe too (the store is evidently there); a probe that
    answers does not clear a refused write."""
    if probe:
        health.probe_ok = up
    else:
        health.write_ok = up
        health.probe_ok = health.probe_ok or up
    AUDIT_DB_UP.set(1 if health.reachable else 0)


def audit_ready() -> bool | None:
    """None when the sink is off (the store does not matter); else whether it is reachable."""
    return health.reachable if health.enabled else None


async def probe(store: Store, halt: asyncio.Event) -> None:
    """Every PROBE_INTERVAL, whether the store answers a read within PROBE_TIMEOUT."""
    while not halt.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(halt.wait(), PROBE_INTERVAL)
        if halt.is_set():
            return
        try:
            await asyncio.wait_for(store.version(), PROBE_TIMEOUT)
        except Exception as exc:  # StoreUnavailable, a timeout: not reachable now
            if health.probe_ok:
                log.warning("audit store not reachable: %s",
                            getattr(exc, "reason", type(exc).__name__))  # fmt: skip
            answered(False, probe=True)
        else:
            answered(True, probe=True)
