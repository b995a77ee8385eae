"""The stall watchdog: an assigned input partition that has records to process and makes
no progress is healed by a rebalance.

A partition can stay assigned to a worker that no longer fetches it after a rebalance
(faust-streaming #629: "certain topic partitions are not sending fetch requests"; Faust
only logs it). Its records then wait until the next rebalance, which may be days away.
Every few seconds the watchdog compares, per assigned partition of ``signals``, ``orders``
and ``fills``, the broker's end offset with what this worker committed. A partition with
lag whose committed offset has not moved for ``AT_STREAM_STALL_SECONDS`` is stalled: the
worker logs it, counts it and asks the group to rebalance, which re-seeks and refetches
every partition from its committed offset. Nothing is skipped (the offsets only move
after processing) and nothing applies twice (effects are idempotent). Rebalances it asks
for back off (x2 each time, at most every 10 min) while the stall does not clear, so an
agent stuck for another reason does not rebalance the group in a loop.

The checks pause while the worker rebalances, recovers tables or cannot reach the broker:
no commits are expected then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from faust.types import TP

from app import faust_internals
from app.main import app, settings
from app.metrics import STALL_REBALANCES, STALLED_PARTITIONS
from app.stall import StallDetector

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 5.0


_detector = StallDetector(settings.stall_seconds)
_paused_once: set[TP] = set()
_WATCHED = {settings.signals_topic, settings.orders_topic, settings.fills_topic}


async def offsets(worker_app: Any) -> dict[TP, tuple[int | None, int]]:
    """(committed, end) per assigned partition of the topics the agents consume."""
    tps = [tp for tp in worker_app.consumer.assignment() if tp.topic in _WATCHED]
    if not tps:
        return {}
    ends = await worker_app.consumer.highwaters(*tps)
    committed = faust_internals.committed_offsets(worker_app)
    return {tp: (committed.get(tp), int(ends[tp])) for tp in tps if tp in ends}


def _settled(worker_app: Any) -> bool:
    recovery = worker_app.tables.recovery
    return bool(
        not worker_app.rebalancing and recovery.completed.is_set() and not recovery.in_recovery
    )


async def _inject_pause(worker_app: Any, committed: Mapping[TP, tuple[int | None, int]]) -> None:
    """The reliability suite's fault: stop fetching one partition once it made progress."""
    if settings.test_pause_partition is None:
        return
    name, number = settings.test_pause_partition.rsplit(":", 1)
    tp = TP(getattr(settings, f"{name}_topic"), int(number))
    if tp in _paused_once or (committed.get(tp, (None, 0))[0] or 0) <= 0:
        return
    _paused_once.add(tp)
    log.warning("fault injected: fetching of %s stopped (AT_STREAM_TEST_PAUSE_PARTITION)", tp)
    await faust_internals.pause_fetching(worker_app, tp)


if settings.stall_seconds > 0:

    @app.timer(INTERVAL_SECONDS, name="stall-watchdog")  # type: ignore[untyped-decorator]
    async def watchdog() -> None:
        now = time.monotonic()
        if not _settled(app):
            _detector.pause()
            return
        try:
            current = await offsets(app)
        except Exception:  # broker unreachable, consumer restarting: no verdict
            log.debug("offsets not read", exc_info=True)
            _detector.pause()
            return
        try:
            await _inject_pause(app, current)
        except Exception:
            log.exception("fault not injected")
        stalled = _detector.update(now, current)
        STALLED_PARTITIONS.set(len(stalled))
        if stalled and _detector.should_heal(now):
            STALL_REBALANCES.inc()
            log.error(
                "stalled partitions (lag, no commit for %.0f s): %s; asking for a rebalance",
                settings.stall_seconds,
                ", ".join(f"{tp.topic}/{tp.partition} at {current[tp]}" for tp in stalled),
            )
            try:
                await faust_internals.request_rejoin(app)
            except Exception:  # a timer that raises crashes the app: log, try next time
                log.exception("rebalance not requested")
