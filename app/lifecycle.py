"""Graceful shutdown: on SIGTERM the worker drains before Faust stops it.

1. ``draining`` is set: ``/readyz`` answers 503 and every new webhook request gets
   ``503 not-ready`` with ``Retry-After`` at once (a load balancer moves on).
2. The requests in flight finish (each within its deadline).
3. Faust's own stop follows: the agents finish the records in hand, the producers flush,
   offsets are committed, RocksDB is closed; the process exits 0.

If all of that takes longer than ``AT_STREAM_SHUTDOWN_TIMEOUT_SECONDS`` (20 s, under
Kubernetes' default 30 s grace period) the process exits with status 70 (EX_SOFTWARE):
what it had not committed is redelivered to the next owner, with the same ids.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

EXIT_TIMED_OUT = 70
POLL_SECONDS = 0.05


class Drain:
    """The worker's shutdown state, shared by the worker class and the views."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight: Callable[[], int] = lambda: 0
        self.started_at: float | None = None

    def begin(self, timeout: float) -> None:
        """Refuse new work from now on; exit hard if the whole stop outlasts ``timeout``."""
        if self.draining:
            return
        self.draining = True
        self.started_at = time.monotonic()
        watchdog = threading.Timer(timeout, _exit_timed_out, args=(timeout,))
        watchdog.daemon = True
        watchdog.start()
        log.info("draining: new requests get 503; %d in flight", self.in_flight())

    async def idle(self, timeout: float) -> bool:
        """Wait until no request is in flight (True), or ``timeout`` passed (False)."""
        deadline = time.monotonic() + timeout
        while self.in_flight() > 0:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_SECONDS)
        return True


def _exit_timed_out(timeout: float) -> None:
    log.error("shutdown took longer than %.0f s: exiting %d", timeout, EXIT_TIMED_OUT)
    logging.shutdown()
    os._exit(EXIT_TIMED_OUT)


drain = Drain()
